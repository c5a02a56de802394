/**
 * The toolkit cloud drivers read their `DriverParameters` with: small value
 * parsers that say what they expected, and one function that applies a
 * table of them over the defaults, names the bad parameter in its error,
 * and collects the names it does not know (the reference's defaults file
 * mixes several drivers' parameters into one mapping, so a driver warns
 * about those instead of refusing to start).
 */
import { parseDuration } from '../config/units.js';
import { isDeepStrictEqual } from 'node:util';
import { closestKey } from '../config/fields.js';
import { REFERENCE_CLUSTER_DEFAULTS } from '../config/reference-defaults.js';
import type { Logger } from '../log.js';

/** Turns one YAML value into a typed one, or throws saying what was expected. */
export type ParamParser<T> = (value: unknown) => T;

export const str: ParamParser<string> = (v) => {
  if (typeof v !== 'string') throw new Error(`expected a string, got ${JSON.stringify(v)}`);
  return v.trim();
};

export const nonEmpty: ParamParser<string> = (v) => {
  const s = str(v);
  if (s === '') throw new Error('must not be empty');
  return s;
};

/**
 * Any login name the image may have, as POSIX and useradd allow it
 * (`ec2-user`, `Admin`, `first.last`, `machine$`): the reference takes
 * AdminUsername as any string; only what cannot name a user is refused.
 */
export const loginName: ParamParser<string> = (v) => {
  if (typeof v !== 'string' || !/^[A-Za-z0-9._][A-Za-z0-9._-]*\$?$/.test(v)) throw new Error(`expected a user name, got ${JSON.stringify(v)}`);
  return v;
};

export const bool: ParamParser<boolean> = (v) => {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new Error(`expected true or false, got ${JSON.stringify(v)}`);
};

/** A number >= 0, also written as a string (`"0.10"`). */
export const nonNegativeNumber: ParamParser<number> = (v) => {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new Error(`expected a non-negative number, got ${JSON.stringify(v)}`);
  return n;
};

/** A Go-style duration (`"24h"`, `"90s"`, `"-1h"`), in ms, negative ones included. */
export const signedDuration: ParamParser<number> = (v) => {
  if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`expected a duration like "24h", got ${JSON.stringify(v)}`);
  return parseDuration(typeof v === 'string' ? v.trim() : v);
};

/** An http(s) URL or empty; `example` shows up in the error. */
export function httpURL(example: string): ParamParser<string> {
  return (v) => {
    const s = str(v);
    if (s === '') return s;
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw new Error(`expected a URL like "${example}", got ${JSON.stringify(v)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`expected an http(s) URL, got ${JSON.stringify(v)}`);
    return s;
  };
}

export interface ParsedParams<P> {
  params: P;
  /** Parameter names the driver does not know, sorted (the caller warns once, naming them). */
  unknown: string[];
}

/**
 * Applies `parsers` to `raw` over `defaults` (copied, never changed).
 * Null values count as absent. The first bad value throws `makeError` with
 * `DriverParameters.<Name>: <what was expected>`.
 */
export function parseDriverParams<P extends object>(
  raw: Record<string, unknown> | undefined | null,
  parsers: { [K in keyof P]: ParamParser<P[K]> },
  defaults: P,
  makeError: (message: string) => Error,
): ParsedParams<P> {
  const values = raw ?? {};
  if (typeof values !== 'object' || Array.isArray(values)) throw makeError('DriverParameters: expected a mapping');
  const out = structuredClone(defaults);
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (!Object.hasOwn(parsers, key)) {
      unknown.push(key);
      continue;
    }
    if (value === undefined || value === null) continue;
    const k = key as keyof P;
    try {
      out[k] = parsers[k](value);
    } catch (err) {
      throw makeError(`DriverParameters.${key}: ${(err as Error).message}`);
    }
  }
  return { params: out, unknown: unknown.sort() };
}

/** The reference's default DriverParameters: every driver's, as `arvados-server config-dump` writes them into any cluster's config. */
const REFERENCE_DRIVER_PARAMS = (((REFERENCE_CLUSTER_DEFAULTS.Containers as Record<string, unknown>).CloudVMs as Record<string, unknown>).DriverParameters ?? {}) as Record<string, unknown>;

/**
 * Logs, once, the DriverParameters a driver does not use (names only: an
 * unknown parameter may be another driver's secret), with the parameter
 * likely meant for each that is close to one the driver knows (`Regoin` ->
 * `Region`). A parameter left at the reference's default for another driver
 * is not one: a config written by `arvados-server config-dump` carries every
 * driver's.
 */
export function warnUnusedParams(
  logger: Pick<Logger, 'warn'>,
  message: string,
  raw: Record<string, unknown>,
  unknown: readonly string[],
  known: readonly string[],
  field = 'Parameters',
): void {
  const unused = unknown.filter((name) => !(Object.hasOwn(REFERENCE_DRIVER_PARAMS, name) && isDeepStrictEqual(raw[name], REFERENCE_DRIVER_PARAMS[name])));
  if (unused.length === 0) return;
  const hints: Record<string, string> = {};
  for (const name of unused) {
    const hint = closestKey(name, known);
    if (hint !== undefined) hints[name] = hint;
  }
  logger.warn(message, Object.keys(hints).length > 0 ? { [field]: unused, DidYouMean: hints } : { [field]: unused });
}
