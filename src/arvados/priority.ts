/**
 * Container priorities as the controller sets them.
 *
 * Since Arvados 2.7 a container's priority is computed from the requests
 * that want it: the highest of (request priority x 2^50 - the request's
 * creation time in ms), and a workflow step's is its runner's. A request
 * at priority 500 gives about 5.6e17, so older requests of the same
 * priority come first, and any request priority outranks every lower one.
 * Before 2.7 it was the highest request priority itself, 0 to 1000.
 */

/** What one step of request priority is worth in a container priority (2^50), since Arvados 2.7. */
export const REQUEST_PRIORITY_SCALE = 2 ** 50;

/** The highest request priority (1-1000) an Arvados controller ever sets on a container as it is, before 2.7. */
const MAX_REQUEST_PRIORITY = 1000;

/**
 * The request priority (0-1000) that a container priority stands for, in
 * either scheme: what an operator's threshold such as "900 and above go
 * first" means. The creation time subtracted is far below 2^50, so the
 * quotient is just under the request priority, and rounds up to it.
 */
export function requestPriority(containerPriority: number): number {
  return containerPriority > MAX_REQUEST_PRIORITY ? Math.ceil(containerPriority / REQUEST_PRIORITY_SCALE) : containerPriority;
}
