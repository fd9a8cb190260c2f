// Holds the one action to run when Node's event loop drains ('beforeExit'), which is how "wait for an empty
// event loop" and "a promise that never settled" are detected.

export class BeforeExitHook {
  private action: (() => void) | undefined;

  set(action: () => void): void {
    this.action = action;
  }

  reset(): void {
    this.action = undefined;
  }

  /** Wired to `process.on('beforeExit')`. Runs the action once: a later drain must not report twice. */
  fire(): void {
    const action = this.action;
    this.action = undefined;
    action?.();
  }
}
