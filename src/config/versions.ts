/**
 * GPU driver versions and CUDA compute capabilities ("12.4", "9.0") are
 * numbers to Arvados: it reads them with Go's strconv.ParseFloat, refuses a
 * config whose GPU type has a DriverVersion that does not parse, and
 * compares versions as numbers (so "11.10" < "11.9"). This reads them the
 * same way, so the config loader and the scheduler agree with Arvados on
 * what parses and on the order.
 */

/** Go's decimal float syntax: optional sign, digits with an optional point, optional exponent. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Go's special values: a possibly signed "inf"/"infinity", or an unsigned "nan", in any case. */
const SPECIAL = /^(?:[+-]?(inf|infinity)|nan)$/i;

/**
 * The number a version string stands for, or undefined when Go would not
 * parse it (the empty string, "12.4.1", "latest", or a value out of a
 * float64's range). Go's hexadecimal floats ("0x1p4") are not taken: no
 * driver version is written that way.
 */
export function parseVersion(v: string): number | undefined {
  if (DECIMAL.test(v)) {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  const special = SPECIAL.exec(v);
  if (!special) return undefined;
  if (special[1] === undefined) return NaN;
  return v.startsWith('-') ? -Infinity : Infinity;
}
