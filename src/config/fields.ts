/**
 * The small toolkit the config compiler is written with: typed field readers
 * that know their default and their unit, a section reader that applies a
 * table of them to one YAML map (the collector of problems is problems.ts).
 *
 * Hand-written rather than zod because the loader must report every problem
 * at once, each as `full.yaml.path: what was expected`, must tell errors
 * (what Arvados itself refuses: a value of the wrong type) from warnings
 * (what Arvados accepts but an operator should hear about: what a negative
 * count means), and must read
 * some string values from their YAML source text (an unquoted
 * `DriverVersion: 12.0` is "12.0", not 12). Such a value, which Arvados
 * refuses, is read here with a warning saying so (`warnReferenceRefuses`).
 */
import { formatByteSize, parseByteSize, parseDuration } from './units.js';

import type { Path, Problems } from './problems.js';

export { type Path, Problems, showPath } from './problems.js';

/** What a field reader needs besides the value. */
export interface ReadContext {
  readonly problems: Problems;
  /**
   * The text the YAML file wrote for the scalar at `path`, when it is there
   * to be found; lets a string field take `SSHPort: 22` or `DriverVersion: 12.0`
   * as written rather than as the number YAML made of it.
   */
  sourceText(path: Path): string | undefined;
  /**
   * The document is the cluster's config.yml, which the reference dispatcher
   * reads too (not a file of this daemon's own): values it refuses or reads
   * differently, while this daemon takes them, get a warning saying so, for
   * a site that switches back to it.
   */
  readonly readByReference: boolean;
}

/**
 * Warns about a value this daemon takes but the reference dispatcher refuses
 * at start; `why` says what it expects instead.
 */
export function warnReferenceRefuses(ctx: ReadContext, path: Path, why: string): void {
  ctx.problems.warn(path, `the reference dispatcher refuses this (${why}); switching back to it would fail to start`);
}

/** How a field's value is shown by check-config (durations and sizes get units back). */
export type FieldKind = 'string' | 'bool' | 'int' | 'number' | 'duration' | 'size' | 'stringList' | 'stringMap' | 'object';

/** One config key: its kind, its default, and how to read it. */
export interface Field<T> {
  readonly kind: FieldKind;
  defaultValue(): T;
  /** Returns the compiled value, or undefined after recording an error in `ctx.problems`. */
  read(ctx: ReadContext, value: unknown, path: Path): T | undefined;
  /** How check-config shows a compiled value that `kind` cannot (an object with durations inside), so that it reads back; default: as it is. */
  show?(value: T): unknown;
}

/** The compiled object a table of fields produces. */
export type Compiled<F extends Record<string, Field<unknown>>> = { [K in keyof F]: F[K] extends Field<infer T> ? T : never };

/** A YAML map as a plain object; arrays and scalars are not maps. */
export function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** Absent and null both mean "use the default", as in Arvados (which drops null keys before merging). */
function isAbsent(value: unknown): value is null | undefined {
  return value === undefined || value === null;
}

/** Describes a wrong value briefly, for "expected X, got Y" messages. */
export function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (isMap(value)) return 'a map';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

export function str(def: string): Field<string> {
  return { kind: 'string', defaultValue: () => def, read: readString };
}

/**
 * Reads a string; a plain scalar YAML typed as a number or boolean is taken
 * as written. The reference decodes its config through JSON, where such a
 * scalar stays a number or a boolean and cannot fill a string field.
 */
export function readString(ctx: ReadContext, value: unknown, path: Path): string | undefined {
  const text = scalarText(ctx, value, path);
  if (text === undefined) {
    ctx.problems.error(path, `expected a string, got ${describe(value)}`);
  } else if (typeof value !== 'string' && ctx.readByReference) {
    warnReferenceRefuses(ctx, path, quotedForReference(text, value as number | boolean, path));
  }
  return text;
}

/**
 * Keys that hold secrets (SystemRootToken, BlobSigningKey, a PostgreSQL
 * password, DriverParameters' SecretAccessKey, ...); a name ending in "ID"
 * (AccessKeyID) is not one. check-config shows their values redacted, and
 * no message quotes them.
 */
export const SECRET_KEY = /secret|token|password|key$/i;

/**
 * Why the reference refuses a YAML number or boolean (`value`, written
 * `text`) at `path` where it expects a string; without the value when the
 * key holds a secret (a numeric-looking password), since warnings go to
 * terminals and logs.
 */
export function quotedForReference(text: string, value: number | boolean, path: Path): string {
  const kind = `a YAML ${typeof value === 'number' ? 'number' : 'boolean'}`;
  const key = path[path.length - 1];
  if (typeof key === 'string' && SECRET_KEY.test(key)) return `the value is ${kind}, and it expects a string here: quote it`;
  return `${text} is ${kind}, and it expects a string here: write it quoted, ${JSON.stringify(text)}`;
}

/** A scalar as the file writes it (a YAML number or boolean as its source text); undefined for a map, list or null. */
export function scalarText(ctx: ReadContext, value: unknown, path: Path): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return ctx.sourceText(path) ?? String(value);
  return undefined;
}

export function bool(def: boolean): Field<boolean> {
  return {
    kind: 'bool',
    defaultValue: () => def,
    read: (ctx, value, path) => {
      if (typeof value === 'boolean') return value;
      ctx.problems.error(path, `expected true or false, got ${describe(value)}`);
      return undefined;
    },
  };
}

/**
 * Arvados decodes any number of the right type, negative ones included, and
 * uses it as given: each consumer tests `> 0` (so `MaxInstances: -1` means
 * no limit there, as 0 does). The value is kept here too; `negative` says
 * what such a value means for the key, and is given as a warning when the
 * file has one, since a sign slip reads the same as an intended -1.
 */
export interface NumberRules {
  /** What a negative value does, e.g. "no limit, as 0"; no warning without it. */
  negative?: string;
}

/** Warns, with what it means, about a negative value of a key whose rules say what that is. */
function warnNegative(ctx: ReadContext, path: Path, n: number, written: unknown, rules: NumberRules): void {
  if (n < 0 && rules.negative !== undefined) ctx.problems.warn(path, `negative (${typeof written === 'string' ? JSON.stringify(written) : n}): ${rules.negative}`);
}

/**
 * Reads a finite number (a whole one when `integer`), recording an error for
 * anything else; ranges are the caller's to check.
 */
export function readFiniteNumber(ctx: ReadContext, value: unknown, path: Path, integer: boolean): number | undefined {
  const what = integer ? 'a whole number' : 'a number';
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    ctx.problems.error(path, `expected ${what}, got ${describe(value)}`);
    return undefined;
  }
  if (integer && !Number.isInteger(value)) {
    ctx.problems.error(path, `expected ${what}, got ${value}`);
    return undefined;
  }
  return value;
}

function readNumber(ctx: ReadContext, value: unknown, path: Path, integer: boolean, rules: NumberRules): number | undefined {
  const n = readFiniteNumber(ctx, value, path, integer);
  if (n !== undefined) warnNegative(ctx, path, n, value, rules);
  return n;
}

export function int(def: number, rules: NumberRules = {}): Field<number> {
  return { kind: 'int', defaultValue: () => def, read: (ctx, value, path) => readNumber(ctx, value, path, true, rules) };
}

export function num(def: number, rules: NumberRules = {}): Field<number> {
  return { kind: 'number', defaultValue: () => def, read: (ctx, value, path) => readNumber(ctx, value, path, false, rules) };
}

/** A Go-style duration ("10s"), compiled to ms; the default is written the same way. */
export function duration(def: string, rules: NumberRules = {}): Field<number> {
  const ms = parseDuration(def);
  return {
    kind: 'duration',
    defaultValue: () => ms,
    read: (ctx, value, path) => {
      const result = readDuration(ctx, value, path);
      if (result !== undefined) warnNegative(ctx, path, result, value, rules);
      return result;
    },
  };
}

/**
 * Reads a Go-style duration into ms, recording an error for anything that is
 * not one; ranges are the caller's to check.
 */
export function readDuration(ctx: ReadContext, value: unknown, path: Path): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') {
    ctx.problems.error(path, `expected a duration like "10s", "1m30s" or "2h", got ${describe(value)}`);
    return undefined;
  }
  try {
    return parseDuration(value);
  } catch (err) {
    ctx.problems.error(path, (err as Error).message);
    return undefined;
  }
}

/** A byte size (a number of bytes, or "550MiB"), compiled to bytes. */
export function size(def: string | number, rules: NumberRules = {}): Field<number> {
  const bytes = parseByteSize(def);
  return {
    kind: 'size',
    defaultValue: () => bytes,
    read: (ctx, value, path) => {
      if (typeof value !== 'string' && typeof value !== 'number') {
        ctx.problems.error(path, `expected a size like 1073741824 or "1GiB", got ${describe(value)}`);
        return undefined;
      }
      let result: number;
      try {
        result = parseByteSize(value);
      } catch (err) {
        ctx.problems.error(path, (err as Error).message);
        return undefined;
      }
      warnNegative(ctx, path, result, value, rules);
      if (ctx.readByReference && typeof value === 'string' && result !== 0 && UNIT_LESS_END.test(value)) {
        const formatted = formatByteSize(result);
        const withUnit = typeof formatted === 'string' ? formatted : `${result}B`;
        ctx.problems.warn(
          path,
          `the reference dispatcher reads ${JSON.stringify(value)} as 0 (a quoted size without a unit), where this daemon reads ${result} bytes; write it with a unit, ${JSON.stringify(withUnit)}, so that both read the same`,
        );
      }
      return result;
    },
  };
}

/**
 * How a quoted size ends that the reference reads as 0: its parser takes
 * everything up to the last character that can end a number as the number,
 * and when nothing is left for a unit it returns before storing the value.
 * A final "E" is the Exa prefix there, not part of the number.
 */
const UNIT_LESS_END = /[0-9.+\-e]$/;

/** A list whose items `item` reads (recording each bad item's problem at its index); undefined if it is not a list or any item is bad. */
export function readList<T>(ctx: ReadContext, value: unknown, path: Path, what: string, item: (ctx: ReadContext, value: unknown, path: Path) => T | undefined): T[] | undefined {
  if (!Array.isArray(value)) {
    ctx.problems.error(path, `expected ${what}, got ${describe(value)}`);
    return undefined;
  }
  const out: T[] = [];
  value.forEach((v, i) => {
    const x = item(ctx, v, [...path, String(i)]);
    if (x !== undefined) out.push(x);
  });
  return out.length === value.length ? out : undefined;
}

export function stringList(): Field<string[]> {
  return {
    kind: 'stringList',
    defaultValue: () => [],
    read: (ctx, value, path) => readList(ctx, value, path, 'a list of strings', readString),
  };
}

export function stringMap(): Field<Record<string, string>> {
  return {
    kind: 'stringMap',
    defaultValue: () => ({}),
    read: (ctx, value, path) => {
      if (!isMap(value)) {
        ctx.problems.error(path, `expected a map of names to strings, got ${describe(value)}`);
        return undefined;
      }
      const out: Record<string, string> = {};
      let ok = true;
      for (const [k, v] of Object.entries(value)) {
        const s = isAbsent(v) ? '' : readString(ctx, v, [...path, k]);
        if (s === undefined) ok = false;
        else out[k] = s;
      }
      return ok ? out : undefined;
    },
  };
}

/** A map passed on as is (DriverParameters: each driver validates its own). */
export function object(): Field<Record<string, unknown>> {
  return {
    kind: 'object',
    defaultValue: () => ({}),
    read: (ctx, value, path) => {
      if (!isMap(value)) {
        ctx.problems.error(path, `expected a map, got ${describe(value)}`);
        return undefined;
      }
      return value;
    },
  };
}

/**
 * Reads a map node that must be a map (or absent/null, meaning empty).
 * Returns undefined after recording an error when it is something else.
 */
export function readMap(ctx: ReadContext, value: unknown, path: Path): Record<string, unknown> | undefined {
  if (isAbsent(value)) return {};
  if (isMap(value)) return value;
  ctx.problems.error(path, `expected a map of keys to values, got ${describe(value)}`);
  return undefined;
}

/**
 * Applies a table of fields to one YAML map: every field is read or
 * defaulted, so the result is always complete (a field with an error gets its
 * default, and the error is recorded). Keys of the cluster config that
 * nobody knows are warned about once, for the whole file (unknown-keys.ts),
 * since Arvados only warns about them; `strict` makes a key that is neither
 * a field nor in `alsoKnown` an error, for a file of this daemon's own.
 */
export function readSection<F extends Record<string, Field<unknown>>>(
  ctx: ReadContext,
  raw: Record<string, unknown>,
  path: Path,
  fields: F,
  opts: { strict: boolean; alsoKnown?: readonly string[] } = { strict: false },
): Compiled<F> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(fields)) {
    const value = raw[key];
    const read = isAbsent(value) ? undefined : field.read(ctx, value, [...path, key]);
    out[key] = read === undefined ? field.defaultValue() : read;
  }
  if (opts.strict) checkKnownKeys(ctx, raw, path, [...Object.keys(fields), ...(opts.alsoKnown ?? [])]);
  return out as Compiled<F>;
}

/** Records `path.key: unknown key` for every key of `raw` not in `known`, with a hint when one is close. */
export function checkKnownKeys(ctx: ReadContext, raw: Record<string, unknown>, path: Path, known: readonly string[]): void {
  for (const key of Object.keys(raw)) {
    if (known.includes(key)) continue;
    const hint = closestKey(key, known);
    ctx.problems.error([...path, key], `unknown key${hint ? ` (did you mean ${hint}?)` : ''}`);
  }
}

/** A known key that differs only in case, or by at most two edits. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const sameCase = known.find((k) => k.toLowerCase() === key.toLowerCase());
  if (sameCase) return sameCase;
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
