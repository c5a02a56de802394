/**
 * At most one lock, unlock or cancel per container at a time: a second one
 * for the same container while the first is in flight is refused at once,
 * so the scheduler never races itself on the controller.
 */

/** A second lock, unlock or cancel for a container while one is in flight. */
export class ContainerBusyError extends Error {
  override readonly name = 'ContainerBusyError';
  constructor(
    readonly uuid: string,
    readonly operation: string,
    readonly inProgress: string,
  ) {
    super(`cannot ${operation} ${uuid}: ${inProgress} already in progress`);
  }
}

export class ExclusiveOperations {
  /** Container uuid -> the operation in flight on it. */
  private readonly busy = new Map<string, string>();

  /** Operations in flight. */
  get size(): number {
    return this.busy.size;
  }

  /** Runs `fn` as the one operation on `uuid`; rejects at once if another is in flight. */
  async run<T>(uuid: string, name: string, fn: () => Promise<T>): Promise<T> {
    const other = this.busy.get(uuid);
    if (other !== undefined) throw new ContainerBusyError(uuid, name, other);
    this.busy.set(uuid, name);
    try {
      return await fn();
    } finally {
      this.busy.delete(uuid);
    }
  }
}
