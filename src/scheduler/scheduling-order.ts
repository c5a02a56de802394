/**
 * The order a scheduling pass takes the queue's entries in, computed in a
 * few linear passes over typed arrays (`PassView` reads the entries into
 * them): a 100k-entry queue is ordered on every pass.
 */

/**
 * Positions in scheduling order: by `group`, then `priority` descending,
 * then `seen`, then position (stable).
 *
 * The snapshot is normally in first-seen order already (the queue adds an
 * entry when it first sees the container, and a Map keeps a key's place
 * when its value is replaced), so the position can stand for first seen.
 * Then sorts that place entries in position order within each bucket do
 * the work in a few linear passes, with no comparisons: for priorities
 * that are small integers (as before Arvados 2.7: 0-1000), one counting
 * sort by (group, priority); for any others (the 2.7+ ones, about 2^50 x
 * the request's priority, nearly all distinct), a radix sort by the
 * priority's bytes, least significant first, then by group. Otherwise, the
 * comparator. A comparator sort of 100k 2.7+ priorities took most of a
 * pass.
 */
export function schedulingOrder(group: Uint8Array, priority: Float64Array, seen: Float64Array): Uint32Array {
  const n = group.length;
  let packable = true;
  for (let k = 0; packable && k < n; k++) {
    if (!Number.isFinite(priority[k]) || group[k] > 3 || (k > 0 && seen[k] < seen[k - 1])) packable = false;
  }
  if (!packable) {
    const order = Array.from({ length: n }, (_, k) => k);
    order.sort((a, b) => group[a] - group[b] || priority[b] - priority[a] || seen[a] - seen[b] || a - b);
    return Uint32Array.from(order);
  }
  let max = 0;
  let small = true;
  for (let k = 0; small && k < n; k++) {
    const p = priority[k];
    small = Number.isInteger(p) && p >= 0;
    if (p > max) max = p;
  }
  // The counting array stays within a few times the entry count.
  if (small && max < 4 * n + 1024) return countingOrder(group, priority, max);
  return radixOrder(group, priority);
}

/** By group, then priority (small integers up to `max`) descending, then position. */
function countingOrder(group: Uint8Array, priority: Float64Array, max: number): Uint32Array {
  const n = group.length;
  const ranks = max + 1;
  // Bucket b = group x ranks + (max - priority); start[b] is where bucket b begins in the order.
  const start = new Uint32Array(4 * ranks + 1);
  for (let k = 0; k < n; k++) start[group[k] * ranks + max - priority[k] + 1]++;
  for (let b = 1; b < start.length; b++) start[b] += start[b - 1];
  const order = new Uint32Array(n);
  for (let k = 0; k < n; k++) order[start[group[k] * ranks + max - priority[k]]++] = k;
  return order;
}

/** By group, then priority (any finite values) descending, then position. */
function radixOrder(group: Uint8Array, priority: Float64Array): Uint32Array {
  const n = group.length;
  // Each priority as two words that sort, as unsigned integers, highest
  // priority first. An IEEE 754 double sorts as its bits with the sign bit
  // set when positive, as its bits inverted when negative; inverted again
  // for descending. -0 is read as 0, as the comparator takes it.
  let hi = new Uint32Array(n);
  let lo = new Uint32Array(n);
  for (let k = 0; k < n; k++) {
    F64[0] = priority[k] === 0 ? 0 : priority[k];
    const h = U32[HIGH];
    const l = U32[1 - HIGH];
    const negative = h >>> 31 === 1;
    hi[k] = negative ? h : ~(h | 0x80000000);
    lo[k] = negative ? l : ~l;
  }
  let at = new Uint32Array(n);
  for (let i = 0; i < n; i++) at[i] = i;
  let at2 = new Uint32Array(n);
  let hi2 = new Uint32Array(n);
  let lo2 = new Uint32Array(n);
  const count = new Uint32Array(256);
  for (let digit = 0; digit < 8; digit++) {
    const src = digit < 4 ? lo : hi;
    const shift = (digit & 3) * 8;
    count.fill(0);
    for (let i = 0; i < n; i++) count[(src[i] >>> shift) & 255]++;
    // Every key has this byte (the low ones of small integers): nothing to move.
    if (n === 0 || count[(src[0] >>> shift) & 255] === n) continue;
    startsFromCounts(count);
    for (let i = 0; i < n; i++) {
      const to = count[(src[i] >>> shift) & 255]++;
      at2[to] = at[i];
      hi2[to] = hi[i];
      lo2[to] = lo[i];
    }
    [at, at2, hi, hi2, lo, lo2] = [at2, at, hi2, hi, lo2, lo];
  }
  count.fill(0);
  for (let k = 0; k < n; k++) count[group[k]]++;
  startsFromCounts(count);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[count[group[at[i]]]++] = at[i];
  return order;
}

/** A double's bits as two words; HIGH is the index of the word with the sign and exponent on this host. */
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
const HIGH = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** Turns bucket counts into each bucket's first place, in place. */
function startsFromCounts(count: Uint32Array): void {
  let sum = 0;
  for (let b = 0; b < count.length; b++) {
    const c = count[b];
    count[b] = sum;
    sum += c;
  }
}
