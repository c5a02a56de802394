/**
 * How many cases each fuzz property runs. `npm test` runs a small number so
 * the suite stays quick; `npm run fuzz` (FUZZ_RUNS=10000) runs the full
 * counts, FUZZ_SEED=N repeats a run whose failure printed that seed (with
 * FUZZ_PATH=P, the `path` it printed, straight to the shrunk case), and
 * FUZZ_VERBOSE=1 adds the failing case's error to the report.
 */
import type { Parameters } from 'fast-check';

/**
 * Cases per property: `quick` (what `npm test` runs), or under FUZZ_RUNS
 * that count divided by `share`, never fewer than `quick`. A property whose
 * every case is a whole cycle of real servers (a cloud driver's calls, a
 * pool's create-fail-heal) runs a share of the full count, so that
 * `npm run fuzz` ends in about half an hour.
 */
export function fuzzRuns(quick: number, share = 1): number {
  const env = process.env.FUZZ_RUNS;
  if (env === undefined || env === '') return quick;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1) throw new Error(`FUZZ_RUNS must be a positive integer, not ${JSON.stringify(env)}`);
  return Math.max(quick, Math.round(n / share));
}

/** fast-check parameters for one property: the run count (see `fuzzRuns`), FUZZ_SEED and FUZZ_PATH when set, and with FUZZ_VERBOSE set, the failing case's own error in the report. */
export function fuzzParams<T>(quick: number, share = 1): Parameters<T> {
  const seed = process.env.FUZZ_SEED;
  const path = process.env.FUZZ_PATH;
  return {
    numRuns: fuzzRuns(quick, share),
    ...(seed ? { seed: Number(seed) } : {}),
    ...(path ? { path, endOnFailure: true } : {}),
    ...(process.env.FUZZ_VERBOSE ? { verbose: 1 } : {}),
  };
}

/** Mocha's timeout for a property that takes `quickTimeoutMs` at its quick count, scaled to its count now. */
export function fuzzTimeout(quickRuns: number, quickTimeoutMs: number, share = 1): number {
  return Math.ceil((quickTimeoutMs * fuzzRuns(quickRuns, share)) / quickRuns);
}
