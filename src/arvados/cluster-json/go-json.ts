/**
 * JSON text as Go's `encoding/json` writes it, for the values the reference
 * sends crunch-run: object keys of maps sorted by their bytes, numbers as a
 * float64 prints, `<`, `>`, `&`, U+2028 and U+2029 escaped inside strings.
 *
 * Text is built by hand rather than with `JSON.stringify` of an object,
 * because JavaScript objects put integer-like keys ("10", "9") first, in
 * numeric order, whatever order they were added in.
 */
import { isMap } from '../../config/fields.js';

/** Keys in Go's map order: by their UTF-8 bytes. */
export function sortedKeys(keys: Iterable<string>): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

/** A JSON string literal (the HTML-safe escapes are applied by `goEscapeHTML` to the whole text). */
export function goString(s: string): string {
  return JSON.stringify(s);
}

/**
 * A float64 as Go writes it. Go and JavaScript agree on the shortest
 * round-tripping digits and on where exponent form begins (below 1e-6 and
 * from 1e21), and both write exponents as `e+21`, `e-7`. Go refuses NaN and
 * infinities; they cannot come from a config file, so 0 stands in.
 */
export function goNumber(n: number): string {
  return Number.isFinite(n) ? String(n) : '0';
}

/** `{"k":v,...}` from entries whose values are already JSON text, keys in Go's order. */
export function goObject(entries: Iterable<[string, string]>): string {
  const byKey = new Map(entries);
  return `{${sortedKeys(byKey.keys())
    .map((k) => `${goString(k)}:${byKey.get(k)}`)
    .join(',')}}`;
}

/**
 * Any JSON-like value (what a YAML file can hold) as Go writes an
 * `interface{}` or a `json.RawMessage` holding it: maps with sorted keys,
 * absent as null.
 */
export function goAny(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return goString(v);
  if (typeof v === 'number') return goNumber(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return `[${v.map(goAny).join(',')}]`;
  if (v instanceof Date) return goString(v.toISOString());
  if (isMap(v)) return goObject(Object.entries(v).map(([k, x]) => [k, goAny(x)]));
  return goString(String(v));
}

/**
 * Go's HTML-safe escaping, applied to finished JSON text: those characters
 * can only occur inside strings there, so replacing them everywhere is the
 * same as escaping each string.
 */
export function goEscapeHTML(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Go's `json.Encoder` with `SetIndent("", "    ")`: four-space indentation,
 * empty objects and arrays kept as `{}` and `[]`, and a trailing newline.
 * `json` must be compact Go JSON without integer-like map keys (an instance
 * type record), since it goes through a JavaScript object.
 */
export function goIndent(json: string): string {
  return goEscapeHTML(JSON.stringify(JSON.parse(json), null, 4)) + '\n';
}
