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

/**
 * The priority Arvados 2.7+ gives the container of one request at `priority`
 * (0-1000) created at `createdMs`: 0 stays 0 (on hold).
 */
export function containerPriorityOf(priority: number, createdMs: number): number {
  return priority > 0 ? priority * REQUEST_PRIORITY_SCALE - createdMs : 0;
}

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

/** The integers a JSON reader takes for one container priority: `lo` to `hi`, both included. */
export interface PriorityRange {
  lo: bigint;
  hi: bigint;
}

/**
 * Every integer that reads as `priority` (an integer-valued number, 0 to
 * int64): itself up to 2^53; above, every integer within half the gap to
 * the neighbouring doubles, since JSON.parse rounds to the nearest (ties to
 * the even one), as `Number(bigint)` does. A current controller's priorities
 * are there: at 5.6e17 one number stands for 64 integers, so a filter on
 * "this priority" must name the range, not the number.
 */
export function priorityRange(priority: number): PriorityRange {
  const n = BigInt(priority);
  if (Number.isSafeInteger(priority)) return { lo: n, hi: n };
  const exponent = n.toString(2).length - 1;
  const up = 1n << BigInt(exponent - 52);
  const down = n === 1n << BigInt(exponent) ? up >> 1n : up;
  let lo = n - down / 2n;
  if (Number(lo) !== priority) lo += 1n;
  let hi = n + up / 2n;
  if (Number(hi) !== priority) hi -= 1n;
  return { lo, hi };
}

/**
 * A priority as a list filter's operand: a number while it is exact, the
 * decimal string above 2^53. The controller decodes a filter's numbers into
 * doubles, so only a string reaches the database as it was written (the API
 * server compares it with the integer column exactly, and older servers
 * take it as well: the reference's own `priority > "0"` is a string).
 */
export function priorityOperand(n: bigint): number | string {
  const asNumber = Number(n);
  return Number.isSafeInteger(asNumber) ? asNumber : n.toString();
}
