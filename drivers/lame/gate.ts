/**
 * A test hook that makes calls wait: while held, `pass()` resolves only once
 * `release()` is called (calls that arrive after the release go straight
 * through). The lame cloud holds creates and tag writes with it, so a test
 * can see what the dispatcher does while the cloud is slow to answer.
 */
export class Gate {
  private held: { promise: Promise<void>; release: () => void } | undefined;

  hold(): void {
    if (this.held) return;
    let release!: () => void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.held = { promise, release };
  }

  release(): void {
    const held = this.held;
    this.held = undefined;
    held?.release();
  }

  /** Waits while the gate is held (again, if it was held anew meanwhile). */
  async pass(): Promise<void> {
    while (this.held) await this.held.promise;
  }

  /** `pass()` when held, else undefined: a caller not held need not give up its turn. */
  passing(): Promise<void> | undefined {
    return this.held ? this.pass() : undefined;
  }
}
