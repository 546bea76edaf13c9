import type { IpcReply } from "./ipc-calls.js";

/** What the bench process and its children say to each other over IPC. */
export interface ChildRequest {
  id: number;
  /** `start` (with the service's options) first, then any method the service returned. */
  method: string;
  params: unknown;
}

export type ChildReply = IpcReply;

/** A service's methods, each taking the params sent and answering with something structured-cloneable. */
export type ServiceMethods = Record<string, (params: never) => Promise<unknown>> & {
  /** Called when the bench process lets go of the child, before it exits. */
  close?: () => Promise<void>;
};

/** A module that can run in a bench child: `serve(options)` builds the service. */
export interface ServiceModule {
  serve(options: never): Promise<ServiceMethods>;
}

/** The services a bench child can run, each in a module of its own. */
export const SERVICES = {
  "management-stub": () => import("./management-stub.js"),
  "fanout-runner": () => import("./fanout-runner.js"),
  "fanout-worker": () => import("./worker-service.js"),
  "authorizer-runner": () => import("./authorizer-runner.js"),
  "e2e-sandbox": () => import("./e2e-sandbox.js"),
  "ws-relay": () => import("./ws-relay.js"),
} satisfies Record<string, () => Promise<ServiceModule>>;

export type ServiceName = keyof typeof SERVICES;
