/**
 * Durations and byte sizes as Arvados writes them in its config file, and
 * back.
 *
 * Durations follow Go's `time.ParseDuration` (what Arvados's
 * `arvados.Duration` uses): a sequence of decimal numbers each with a unit
 * (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), e.g. "10s", "1m30s", "1.5h". A bare
 * number is rejected, except 0, which Arvados accepts as a spelling of zero.
 *
 * Sizes follow Arvados's `arvados.ByteSize`: a YAML integer is a number of
 * bytes; a string is a number (a JSON number, so "1.5" and "1e3" work) and an
 * optional unit K, Ki, M, Mi, G, Gi, T, Ti, P, Pi, E, Ei with an optional
 * trailing B ("16GB", "7680MiB", "1.5GiB", "4Gi").
 *
 * Durations are returned in milliseconds, sizes in bytes, both as numbers.
 */

/** Nanoseconds per unit, as Go's time package spells them. */
const DURATION_UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['\u00b5s', 1_000n], // micro sign
  ['\u03bcs', 1_000n], // Greek small letter mu
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

/** Go's time.Duration is an int64 of nanoseconds; longer durations are errors there too. */
const MAX_DURATION_NS = (1n << 63n) - 1n;

const NS_PER_MS = 1_000_000n;

/**
 * Parses a Go-style duration into milliseconds (fractional for sub-millisecond
 * values). Throws an Error whose message says what was wrong, e.g.
 * `invalid duration "1 minute"` or `invalid duration "60": missing unit, e.g. "60s"`.
 */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (input === 0) return 0;
    // YAML gave a number: Arvados rejects these ("missing unit in duration"),
    // because a bare 60 could mean seconds or nanoseconds.
    throw new Error(`invalid duration "${input}": missing unit, e.g. "${input}s"`);
  }
  return Number(parseDurationNs(input)) / Number(NS_PER_MS);
}

function parseDurationNs(orig: string): bigint {
  const invalid = (why?: string) => new Error(`invalid duration ${JSON.stringify(orig)}${why ? `: ${why}` : ''}`);
  let s = orig;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  // Go special-cases a unitless zero.
  if (s === '0') return 0n;
  if (s === '') throw invalid();
  let total = 0n;
  while (s !== '') {
    const m = /^([0-9]*)(?:\.([0-9]*))?/.exec(s)!;
    const [whole, intDigits, fracDigits] = [m[0], m[1], m[2] ?? ''];
    if (intDigits === '' && fracDigits === '') throw invalid();
    s = s.slice(whole.length);
    const unitLen = s.search(/[0-9.]/);
    const unit = unitLen < 0 ? s : s.slice(0, unitLen);
    s = s.slice(unit.length);
    if (unit === '') {
      const suggestion = orig.replace(/^[-+]/, '') + 's';
      throw invalid(/^[0-9.]+$/.test(orig.replace(/^[-+]/, '')) ? `missing unit, e.g. "${suggestion}"` : undefined);
    }
    const perUnit = DURATION_UNITS.get(unit);
    if (perUnit === undefined) {
      throw invalid(/\s/.test(unit) ? undefined : `unknown unit ${JSON.stringify(unit)} (use ns, us, ms, s, m or h)`);
    }
    // The fraction is truncated to whole nanoseconds, as Go does.
    let ns = BigInt(intDigits || '0') * perUnit;
    if (fracDigits !== '') ns += (BigInt(fracDigits) * perUnit) / 10n ** BigInt(fracDigits.length);
    total += ns;
    if (total > MAX_DURATION_NS) throw invalid('too long');
  }
  return negative ? -total : total;
}

/**
 * Formats milliseconds the way Go's `time.Duration.String` does: "0s", "300ms",
 * "10s", "1m0s", "1h30m0s", "1.5s". The result parses back to the same value
 * (to the nanosecond).
 */
export function formatDuration(ms: number): string {
  let ns = BigInt(Math.round(ms * 1e6));
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  if (ns < 0n) ns = -ns;
  if (ns < 1_000n) return `${sign}${ns}ns`;
  if (ns < 1_000_000n) return `${sign}${fraction(ns, 3)}\u00b5s`;
  if (ns < 1_000_000_000n) return `${sign}${fraction(ns, 6)}ms`;
  const seconds = fraction(ns % 60_000_000_000n, 9);
  const totalMinutes = ns / 60_000_000_000n;
  if (totalMinutes === 0n) return `${sign}${seconds}s`;
  const minutes = totalMinutes % 60n;
  const hours = totalMinutes / 60n;
  return hours === 0n ? `${sign}${minutes}m${seconds}s` : `${sign}${hours}h${minutes}m${seconds}s`;
}

/** `value / 10^digits` written with the fractional part's trailing zeros dropped. */
function fraction(value: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const whole = value / scale;
  const frac = (value % scale).toString().padStart(digits, '0').replace(/0+$/, '');
  return frac === '' ? `${whole}` : `${whole}.${frac}`;
}

/** Multipliers for the size prefixes Arvados accepts (a trailing "B" is optional). */
const SIZE_PREFIXES: ReadonlyMap<string, bigint> = new Map([
  ['', 1n],
  ['K', 1000n],
  ['Ki', 1n << 10n],
  ['M', 1000n ** 2n],
  ['Mi', 1n << 20n],
  ['G', 1000n ** 3n],
  ['Gi', 1n << 30n],
  ['T', 1000n ** 4n],
  ['Ti', 1n << 40n],
  ['P', 1000n ** 5n],
  ['Pi', 1n << 50n],
  ['E', 1000n ** 6n],
  ['Ei', 1n << 60n],
]);

/** Arvados stores sizes in an int64. */
const MAX_SIZE = (1n << 63n) - 1n;

const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$/;

/**
 * Parses a byte size into a number of bytes. A number must be a whole number
 * of bytes; a string is a number and an optional unit. Throws an Error whose
 * message says what was wrong, e.g. `invalid byte size "lots"` or
 * `invalid byte size "4GX": unknown unit "GX"`.
 */
export function parseByteSize(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || !Number.isInteger(input)) {
      throw new Error(`invalid byte size ${input}: expected a whole number of bytes, or a string with a unit like "1.5GiB"`);
    }
    return input;
  }
  const s = input.trim();
  // Split where the number ends, as Arvados does: after the last character
  // that can be part of a JSON number...
  let split = 0;
  for (let i = s.length - 1; i >= 0; i--) {
    if ('0123456789.+-eE'.includes(s[i])) {
      split = i + 1;
      break;
    }
  }
  // ...except that an "E" not followed by an exponent is the Exa prefix ("4.5EiB").
  if (split > 0 && s[split - 1] === 'E') split--;
  const numberText = s.slice(0, split);
  if (numberText === '') throw new Error(`invalid byte size ${JSON.stringify(input)}`);
  if (!JSON_NUMBER.test(numberText)) throw new Error(`invalid byte size ${JSON.stringify(input)}: ${JSON.stringify(numberText)} is not a number`);
  const unit = s.slice(split).trim();
  const prefix = unit.endsWith('B') ? unit.slice(0, -1) : unit;
  const multiplier = SIZE_PREFIXES.get(prefix);
  if (multiplier === undefined) {
    throw new Error(`invalid byte size ${JSON.stringify(input)}: unknown unit ${JSON.stringify(unit)} (use B, KB, KiB, MB, MiB, GB, GiB, TB, TiB, PB, PiB, EB or EiB)`);
  }
  let bytes: bigint;
  if (/^-?[0-9]+$/.test(numberText)) {
    bytes = BigInt(numberText) * multiplier;
  } else {
    // Fractional values are truncated to whole bytes, as Arvados does.
    const value = Number(numberText) * Number(multiplier);
    if (!Number.isFinite(value) || Math.abs(value) > Number(MAX_SIZE)) throw new Error(`invalid byte size ${JSON.stringify(input)}: too large`);
    bytes = BigInt(Math.trunc(value));
  }
  if (bytes > MAX_SIZE || bytes < -MAX_SIZE) throw new Error(`invalid byte size ${JSON.stringify(input)}: too large`);
  return Number(bytes);
}

/** The units `formatByteSize` may choose, binary first so it wins a tie. */
const FORMAT_UNITS: ReadonlyArray<[string, number]> = [
  ['EiB', 2 ** 60],
  ['PiB', 2 ** 50],
  ['TiB', 2 ** 40],
  ['GiB', 2 ** 30],
  ['MiB', 2 ** 20],
  ['KiB', 2 ** 10],
  ['EB', 1e18],
  ['PB', 1e15],
  ['TB', 1e12],
  ['GB', 1e9],
  ['MB', 1e6],
  ['KB', 1e3],
];

/**
 * Formats bytes for people: with the unit that divides the value exactly and
 * gives the shortest number ("550MiB", "16GB"), else the plain number. The
 * result parses back to the same value.
 */
export function formatByteSize(bytes: number): string | number {
  if (!Number.isSafeInteger(bytes) || bytes === 0) return bytes;
  let best: string | number = bytes;
  let bestValue = Math.abs(bytes);
  for (const [unit, size] of FORMAT_UNITS) {
    const value = Math.abs(bytes) / size;
    if (Number.isInteger(value) && value < bestValue) {
      best = `${bytes / size}${unit}`;
      bestValue = value;
    }
  }
  return best;
}

/**
 * A figure computed from the file's (a preemptible variant's Price, 0.1 x
 * 0.2) as the decimal it is meant to be, not 0.020000000000000004: 15
 * digits are all a double keeps. check-config writes numbers this way, and
 * the loader compares computed prices this way, so its output loads back
 * as itself.
 */
export function withoutFloatNoise(x: number): number {
  return Number(x.toPrecision(15));
}
