import { App, type CfnElement, Stack } from "aws-cdk-lib";
import type { IConstruct } from "constructs";
import { ChatStack } from "../../lib/chat-stack.js";

export const JWKS_URI = "https://api.example.com/auth/jwt/jwks.json";
export const ISSUER = "https://api.example.com/auth";
export const VALID_CONTEXT = { jwksUri: JWKS_URI, issuer: ISSUER };

export interface TestAppOptions {
  /** Run esbuild for every function; off by default, since most tests read only the template. */
  readonly bundle?: boolean;
}

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

export function chatStack(context: Record<string, unknown> = VALID_CONTEXT, options: TestAppOptions = {}): ChatStack {
  return new ChatStack(testApp(context, options), "Chat");
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
