/** The current time in epoch milliseconds. Injected so tests and benchmarks control time. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

export const toEpochSeconds = (epochMs: number): number => Math.floor(epochMs / 1000);
