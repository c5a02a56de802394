/**
 * Writes a config value as the reference's Go struct would hold and encode
 * it: the value is first read the way Go's JSON decoder reads config into
 * the struct (a value of the wrong type, which the reference refuses at
 * start, becomes the zero value here), then written the way Go writes it.
 * Absent fields are Go's zero values: "", 0, false, and null for maps and
 * lists.
 */
import { formatDuration, parseByteSize, parseDuration } from '../../config/units.js';
import { isMap } from '../../config/fields.js';
import { goAny, goNumber, goObject, goString } from './go-json.js';
import type { GoField, GoKind } from './schema.js';

/** The JSON text Go writes for a field of `kind` decoded from `v`. */
export function encodeGo(kind: GoKind, v: unknown): string {
  if (typeof kind !== 'string') {
    if ('struct' in kind) return encodeStruct(kind.struct, v);
    if (!isMap(v)) return 'null';
    const elem = kind.map;
    const keyOf = kind.urlKeys ? goURL : (k: string) => k;
    return goObject(Object.entries(v).map(([k, x]) => [keyOf(k), encodeGo(elem, x)]));
  }
  switch (kind) {
    case 'string':
      return goString(typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
    case 'bool':
      return v === true ? 'true' : 'false';
    case 'int':
      return typeof v === 'number' && Number.isInteger(v) ? goNumber(v) : '0';
    case 'float':
      return typeof v === 'number' ? goNumber(v) : '0';
    case 'duration':
      return goString(goDuration(v));
    case 'bytesize':
      return goNumber(goByteSize(v));
    case 'bytesizeOrPercent':
      return goByteSizeOrPercent(v);
    case 'url':
      return goString(typeof v === 'string' ? goURL(v) : '');
    case 'tlsVersion':
      return goString(['1.0', '1.1', '1.2', '1.3'].includes(String(v)) ? String(v) : '');
    case 'set':
      return goStringSet(v);
    case 'stringList':
      return Array.isArray(v) ? `[${v.map((s) => goString(String(s))).join(',')}]` : 'null';
    case 'stringMap':
      return isMap(v) ? goObject(Object.entries(v).map(([k, s]) => [k, goString(typeof s === 'string' ? s : String(s ?? ''))])) : 'null';
    case 'boolMap':
      return isMap(v) ? goObject(Object.entries(v).map(([k, b]) => [k, b === true ? 'true' : 'false'])) : 'null';
    case 'rawJSON':
    case 'any':
      return goAny(v);
  }
}

function encodeStruct(fields: Readonly<Record<string, GoField>>, v: unknown): string {
  const obj = isMap(v) ? v : {};
  const parts: string[] = [];
  for (const [name, field] of Object.entries(fields)) {
    const kind = typeof field === 'object' && 'omitempty' in field ? field.kind : (field as GoKind);
    const text = encodeGo(kind, obj[name]);
    if (kind !== field && isEmptyJSON(text)) continue;
    parts.push(`${goString(name)}:${text}`);
  }
  return `{${parts.join(',')}}`;
}

/** What `omitempty` leaves out: false, 0, "", null, and empty lists and maps. */
function isEmptyJSON(text: string): boolean {
  return ['false', '0', '""', 'null', '[]', '{}'].includes(text);
}

/**
 * Arvados's duration text: Go's `time.Duration` form with a zero minutes or
 * seconds part dropped once ("5m" rather than "5m0s", "1h" rather than
 * "1h0m0s"). A bare 0 (number or "0") is zero; anything unparseable too.
 */
export function goDuration(v: unknown): string {
  let ms = 0;
  if (typeof v === 'string' || typeof v === 'number') {
    try {
      ms = parseDuration(v);
    } catch {
      ms = 0;
    }
  }
  return formatDuration(ms).replace('m0s', 'm').replace('h0m', 'h');
}

/**
 * A byte size as Arvados reads it: a whole number, or a string of a number
 * and a unit. A string with no unit at all ("100") leaves the value at zero
 * in the reference (its parser returns before storing it), and so here.
 */
export function goByteSize(v: unknown): number {
  if (typeof v === 'number') return Number.isInteger(v) ? v : 0;
  // Ends in a character of a number (not "E", which is the Exa unit): no unit.
  if (typeof v !== 'string' || /[0-9.+\-e]$/.test(v)) return 0;
  try {
    return parseByteSize(v);
  } catch {
    return 0;
  }
}

/** `ByteSizeOrPercent`: "N%" (0 < N <= 100) is written back as "N%", anything else as a byte size. */
function goByteSizeOrPercent(v: unknown): string {
  let n = 0;
  const text = typeof v === 'string' ? v.trim() : undefined;
  if (text?.endsWith('%')) {
    const pct = text.slice(0, -1).trim();
    if (/^[-+]?[0-9]+$/.test(pct) && Number(pct) >= 0 && Number(pct) <= 100) n = -Number(pct);
  } else {
    n = goByteSize(v);
  }
  return n < 0 && n >= -100 ? goString(`${-n}%`) : goNumber(n);
}

/** `StringSet`: a map's keys, or a list's items (an empty list is nil). */
function goStringSet(v: unknown): string {
  if (isMap(v)) return goObject(Object.keys(v).map((k) => [k, '{}']));
  if (Array.isArray(v) && v.length > 0) return goObject(v.map((k) => [String(k), '{}']));
  return 'null';
}

/** scheme://authority[path][?query][#fragment], for the normal form below. */
const HIER_URL = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/;

/**
 * A URL as Arvados stores and prints it: Go's parser lowercases the scheme,
 * and Arvados gives a URL with a host but no path the path "/"
 * ("http://host:9006" becomes "http://host:9006/"). Other text is kept as
 * written.
 */
export function goURL(text: string): string {
  const m = HIER_URL.exec(text);
  if (!m) return text;
  const [, scheme, authority, path, query = '', fragment = ''] = m;
  return `${scheme.toLowerCase()}://${authority}${path === '' && authority !== '' ? '/' : path}${query}${fragment}`;
}
