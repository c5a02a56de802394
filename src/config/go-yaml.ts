/**
 * The places where Arvados's YAML library (go-yaml v2, which reads YAML 1.1,
 * through ghodss/yaml) and this daemon's (`yaml`, YAML 1.2 core schema, plus
 * the YAML 1.1 booleans in load.ts) read the same config.yml differently,
 * made to read as Arvados reads them:
 *
 * - Only the file's first document is read; any after a `---` are ignored.
 * - A plain scalar is a number by Go's rules: underscores are dropped, a
 *   leading 0 means octal (`010` is 8), `0b`/`0B` binary, `0X` hex, and a
 *   sign goes with any of them (`1_000` is 1000, `-0x10` is -16). YAML 1.2
 *   reads `010` as 10 and `1_000`, `0b11` as text.
 * - Merge keys (`<<`) are applied where they stand: one after an explicit
 *   key overrides it, and a key given twice is the last one.
 *   YAML 1.2 lets explicit keys win wherever they are written.
 * - A file that starts with a UTF-16 byte order mark is read as UTF-16 (a
 *   PowerShell redirection writes one); any other, as UTF-8.
 */
import {
  isAlias,
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
  parseAllDocuments,
  parseDocument,
  Scalar,
  visit,
  type Document,
  type Node,
  type Pair,
  type YAMLMap,
} from 'yaml';

/** A YAML file's text, and where it is not valid UTF-8 (go-yaml refuses such a file). */
export interface DecodedYAML {
  text: string;
  /** The first line (1-based) holding bytes that are not UTF-8, read here as U+FFFD each; undefined when there is none. */
  invalidUTF8Line?: number;
}

/**
 * The text of a YAML file's bytes, decoded as go-yaml decodes them: UTF-16
 * little- or big-endian after the matching byte order mark, else UTF-8.
 * Throws on UTF-16 that does not decode (an odd byte count, a lone
 * surrogate), as go-yaml refuses it; UTF-8 that does not decode is read
 * with U+FFFD for each bad byte, and its first line said.
 */
export function decodeYAMLBytes(bytes: Uint8Array): DecodedYAML {
  const utf16 = bytes[0] === 0xff && bytes[1] === 0xfe ? 'utf-16le' : bytes[0] === 0xfe && bytes[1] === 0xff ? 'utf-16be' : undefined;
  if (utf16) {
    try {
      return { text: new TextDecoder(utf16, { fatal: true }).decode(bytes) };
    } catch {
      throw new Error(`starts with a ${utf16.toUpperCase()} byte order mark but is not valid ${utf16.toUpperCase()}`);
    }
  }
  const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  try {
    return { text: strict.decode(bytes) };
  } catch {
    return { text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'), invalidUTF8Line: invalidUTF8Line(bytes, strict) };
  }
}

/** The first line of `bytes` that `strict` refuses: line by line, since a newline byte is never inside a UTF-8 sequence. */
function invalidUTF8Line(bytes: Uint8Array, strict: { decode(input: Uint8Array): string }): number | undefined {
  let start = 0;
  for (let line = 1; ; line++) {
    const end = bytes.indexOf(0x0a, start);
    try {
      strict.decode(bytes.subarray(start, end === -1 ? bytes.length : end));
    } catch {
      return line;
    }
    if (end === -1) return undefined;
    start = end + 1;
  }
}

/** What the reader found: the first document, and where the first ignored one with something in it starts (a 1-based line), if any. */
export interface FirstDocument {
  doc: Document.Parsed;
  ignoredFromLine?: number;
}

/**
 * Parses the first document of `text`, as go-yaml's Unmarshal reads only
 * that one; the others are not parsed for errors either. An empty text is
 * an empty document.
 */
export function parseFirstDocument(text: string, options: Parameters<typeof parseDocument>[1]): FirstDocument {
  const docs = parseAllDocuments(text, options);
  const doc = docs[0] ?? parseDocument('', options);
  // A trailing `---` with nothing after it is an empty document: nothing is lost.
  const ignored = docs.slice(1).find((d) => !(d.contents === null || (isScalar(d.contents) && d.contents.value === null)));
  if (!ignored) return { doc };
  return { doc, ignoredFromLine: lineOf(text, ignored.range[0]) };
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === '\n') line++;
  return line;
}

/** Go's `yamlStyleFloat`: what go-yaml takes as a float after dropping underscores. */
const GO_YAML_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;

/** Go's strconv.ParseInt syntax with base 0 (after the underscores are dropped): sign, then a prefixed or decimal integer. */
const GO_INT = /^([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]+)|([0-9]+))$/;

/**
 * The number go-yaml makes of a plain scalar, or undefined when it makes
 * something else of it (text, a date, a boolean, null): only a scalar that
 * starts with a digit or a sign can be one (`.5` and `.inf` the YAML 1.2
 * reading already gets right).
 */
export function goYAMLNumber(text: string): number | undefined {
  if (!/^[-+0-9]/.test(text)) return undefined;
  const plain = text.replace(/_/g, '');
  const m = GO_INT.exec(plain);
  if (m) {
    const [, sign, hex, oct, bin, leadingZeroOct, dec] = m;
    let value: bigint;
    if (hex !== undefined) value = BigInt(`0x${hex}`);
    else if (oct !== undefined) value = BigInt(`0o${oct}`);
    else if (bin !== undefined) value = BigInt(`0b${bin}`);
    else if (leadingZeroOct !== undefined) value = BigInt(`0o${leadingZeroOct}`);
    else value = BigInt(dec);
    return Number(sign === '-' ? -value : value);
  }
  // "08" and "09" are no octal: Go then reads them as floats, 8 and 9.
  if (GO_YAML_FLOAT.test(plain)) return Number(plain);
  return undefined;
}

/**
 * Gives every plain, untagged scalar (values and keys) the number go-yaml
 * reads in it, where YAML 1.2 reads another number or text. The source text
 * stays as written, so a string field that takes a number as written
 * (fields.ts `scalarText`) still sees `010`.
 */
export function applyGoYAMLNumbers(doc: Document): void {
  visit(doc, {
    Scalar(_key, node) {
      if (node.type !== Scalar.PLAIN || node.tag !== undefined || typeof node.source !== 'string') return;
      const n = goYAMLNumber(node.source);
      if (n !== undefined && node.value !== n) node.value = n;
    },
  });
}

/**
 * Rewrites every map as go-yaml builds it, entry by entry in file order,
 * each one replacing an earlier entry with the same key: an explicit key
 * sets its value; a merge key (`<<: *anchor`, or a list of them, the first
 * winning among them) sets every entry of the maps it names. So no merge key
 * is left for the YAML library to apply by its own rule, and the value of a
 * key given twice is the one `doc.getIn` finds (the last). A merge whose
 * value is not a map or a list of maps is left in place, for the YAML
 * library to refuse.
 */
export function applyGoYAMLMerges(doc: Document): void {
  const done = new Set<YAMLMap>();
  const flatten = (map: YAMLMap, active: Set<YAMLMap>): void => {
    if (done.has(map) || active.has(map)) return;
    active.add(map);
    const entries = new Map<unknown, Pair>();
    let ok = true;
    for (const pair of map.items) {
      if (!isMergeKey(pair.key)) {
        entries.delete(keyOf(pair));
        entries.set(keyOf(pair), pair);
        continue;
      }
      const sources = mergeSources(doc, pair.value);
      if (!sources) {
        ok = false;
        break;
      }
      for (const source of sources) {
        flatten(source, active);
        for (const merged of source.items) {
          const copy = withoutAnchors(merged.clone());
          entries.delete(keyOf(copy));
          entries.set(keyOf(copy), copy);
        }
      }
    }
    if (ok) map.items = [...entries.values()];
    active.delete(map);
    done.add(map);
  };
  visit(doc, {
    Map(_key, map) {
      flatten(map, new Set());
    },
  });
}

/** A merge key as the YAML library recognises one: a plain `<<` (resolved to its merge symbol). */
function isMergeKey(key: unknown): boolean {
  if (!isScalar(key)) return false;
  const v = key.value;
  return (typeof v === 'symbol' && v.description === '<<') || (v === '<<' && (key.type === undefined || key.type === Scalar.PLAIN) && key.tag === 'tag:yaml.org,2002:merge');
}

/** The key an entry fills: a scalar's value as a JS object key; other keys (refused earlier) each their own. */
function keyOf(pair: Pair): unknown {
  return isScalar(pair.key) ? String(pair.key.value) : pair;
}

/**
 * The maps a merge key's value names, in the order go-yaml applies them
 * (a list backwards, so that its first map wins); undefined when the value
 * is not a map, an alias of one, or a list of those.
 */
function mergeSources(doc: Document, value: unknown): YAMLMap[] | undefined {
  const resolve = (node: unknown): YAMLMap | undefined => {
    const target = isAlias(node) ? node.resolve(doc) : node;
    return isMap(target) ? target : undefined;
  };
  if (isSeq(value)) {
    const maps = value.items.map(resolve);
    return maps.every((m): m is YAMLMap => m !== undefined) ? maps.reverse() : undefined;
  }
  const single = resolve(value);
  return single ? [single] : undefined;
}

/** A copied entry must not define an anchor a second time. */
function withoutAnchors<T extends Pair>(pair: T): T {
  const strip = (node: unknown): void => {
    if (!isNode(node)) return;
    delete (node as Node).anchor;
    visit(node, {
      Node(_key, inner) {
        delete inner.anchor;
      },
    });
  };
  if (isPair(pair)) {
    strip(pair.key);
    strip(pair.value);
  }
  return pair;
}
