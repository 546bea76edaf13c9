/**
 * Counts handler invocations that have not finished, so tests, shutdown and load runs can wait until the sandbox
 * is quiet instead of sleeping.
 */
export class InFlight {
  private count = 0;
  private waiters: (() => void)[] = [];

  /** Counts `work` until it settles; returns it unchanged. */
  track<T>(work: Promise<T>): Promise<T> {
    this.count++;
    return work.finally(() => {
      this.count--;
      if (this.count === 0) {
        const waiters = this.waiters;
        this.waiters = [];
        for (const wake of waiters) wake();
      }
    });
  }

  get size(): number {
    return this.count;
  }

  /** Resolves when nothing is in flight (at once if nothing is). */
  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}
