/**
 * How `ChatFunction` bundles a handler, in a module without aws-cdk-lib so that the bench's cold-start section can
 * bundle the same way without loading the CDK.
 */

/**
 * ESM bundles get no `require`; a bundled CommonJS dependency that requires a Node built-in needs one. The alias
 * keeps it from clashing with a bundled module's own top-level `createRequire` import.
 */
export const ESM_REQUIRE_SHIM =
  "import { createRequire as __chatCreateRequire } from 'node:module'; const require = __chatCreateRequire(import.meta.url);";
