/**
 * How many cases each fuzz property runs. `npm test` runs a small number so
 * the suite stays quick; `npm run fuzz` (FUZZ_RUNS=10000) runs the full
 * counts, and FUZZ_SEED=N repeats a run whose failure printed that seed.
 */
import type { Parameters } from 'fast-check';

/** Cases per property: FUZZ_RUNS when set, else `quick` (what `npm test` runs). */
export function fuzzRuns(quick: number): number {
  const env = process.env.FUZZ_RUNS;
  if (env === undefined || env === '') return quick;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1) throw new Error(`FUZZ_RUNS must be a positive integer, not ${JSON.stringify(env)}`);
  return n;
}

/** fast-check parameters for one property: the run count, and FUZZ_SEED when set. */
export function fuzzParams<T>(quick: number, extra: Parameters<T> = {}): Parameters<T> {
  const seed = process.env.FUZZ_SEED;
  return { numRuns: fuzzRuns(quick), ...(seed ? { seed: Number(seed) } : {}), ...extra };
}

/** How much longer a suite may take under FUZZ_RUNS than at its quick count, for mocha's timeout. */
export function fuzzTimeout(quickRuns: number, quickTimeoutMs: number): number {
  return Math.ceil((quickTimeoutMs * Math.max(fuzzRuns(quickRuns), quickRuns)) / quickRuns);
}
