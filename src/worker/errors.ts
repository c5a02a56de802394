/** Errors the worker pool's management calls raise, named for what the caller should answer. */

/** No worker has that instance id (the management API answers 404). */
export class InstanceNotFoundError extends Error {
  override name = 'InstanceNotFoundError';
  constructor(readonly instanceId: string) {
    super(`instance ${instanceId} not found`);
  }
}

export const isInstanceNotFoundError = (err: unknown): err is InstanceNotFoundError => err instanceof InstanceNotFoundError;
