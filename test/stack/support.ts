import { App, type CfnElement, Stack } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";
import { type ISource, Source } from "aws-cdk-lib/aws-s3-deployment";
import type { IConstruct } from "constructs";
import { ChatStack } from "../../lib/chat-stack.js";
import { VALID_CONTEXT } from "./contexts.js";

export * from "./contexts.js";

export interface TestAppOptions {
  /** Run esbuild for every function and build the page; off by default, since most tests read only the template. */
  readonly bundle?: boolean;
}

/** A stand-in for the built page, for stacks whose tests do not look inside it. */
const STUB_PAGE: ISource = Source.data("index.html", "<!doctype html><title>Chat</title>");

/**
 * An app for one test. CDK's built-in CloudFormation schema check is off: it adds seconds per synth and `cdk synth`
 * runs it anyway.
 */
export function testApp(context: Record<string, unknown> = {}, options: TestAppOptions = {}): App {
  return new App({
    builtinCloudFormationValidation: false,
    context: { ...context, ...(options.bundle ? {} : { "aws:cdk:bundling-stacks": [] }) },
  });
}

/** The stack with `STUB_PAGE`, unless it is bundled, in which case `web/build.ts` builds the real page. */
export function chatStack(context: Record<string, unknown> = VALID_CONTEXT, options: TestAppOptions = {}): ChatStack {
  return new ChatStack(testApp(context, options), "Chat", { webContent: options.bundle ? undefined : STUB_PAGE });
}

/** A bare stack for testing one construct. */
export function emptyStack(): Stack {
  return new Stack(testApp(), "Test");
}

/** Logical id of a construct's CloudFormation resource. */
export function logicalId(construct: IConstruct): string {
  const element = construct.node.defaultChild as CfnElement;
  return Stack.of(construct).resolve(element.logicalId) as string;
}

export type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  DependsOn?: string[];
  DeletionPolicy?: string;
};

export interface Statement {
  Action: string | string[];
  Resource: unknown;
  Effect: string;
  Principal?: unknown;
  Condition?: unknown;
}

export const actionsOf = (statement: Statement) => [statement.Action].flat();

/** Every statement of the inline policies attached to `roleId`. */
export function statementsOf(template: Template, roleId: string): Statement[] {
  return Object.values(template.findResources("AWS::IAM::Policy"))
    .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(`"${roleId}"`))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

/** A Lambda function's environment variables. */
export const envOf = (template: Template, functionId: string): Record<string, unknown> =>
  template.toJSON().Resources[functionId].Properties.Environment.Variables;

/**
 * Resources that `resourceId` needs first: those it names with Ref, Fn::GetAtt or Fn::Sub, and its DependsOn.
 * CloudFormation refuses a template whose resources need each other in a circle.
 */
export function dependenciesOf(template: Template, resourceId: string): Set<string> {
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const found = new Set<string>(resources[resourceId]?.DependsOn ?? []);
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (value === null || typeof value !== "object") return;
    for (const [key, inner] of Object.entries(value)) {
      if (key === "Ref" && typeof inner === "string") found.add(inner);
      else if (key === "Fn::GetAtt") found.add(Array.isArray(inner) ? inner[0] : String(inner).split(".")[0]);
      else if (key === "Fn::Sub") {
        const text = Array.isArray(inner) ? inner[0] : inner;
        for (const [, name] of String(text).matchAll(/\$\{([^}.!]+)/g)) found.add(name ?? "");
      }
      visit(inner);
    }
  };
  visit(resources[resourceId]?.Properties);
  return new Set([...found].filter((id) => id in resources));
}

/** A cycle of resources that need each other, or undefined when there is none. */
export function findCycle(template: Template): string[] | undefined {
  const ids = Object.keys(template.toJSON().Resources);
  const edges = new Map(ids.map((id) => [id, dependenciesOf(template, id)]));
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === "done") return undefined;
    if (state.get(id) === "visiting") return [...path.slice(path.indexOf(id)), id];
    state.set(id, "visiting");
    path.push(id);
    for (const next of edges.get(id) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(id, "done");
    return undefined;
  };
  for (const id of ids) {
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return undefined;
}
