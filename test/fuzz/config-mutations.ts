/**
 * fast-check arbitraries for broken config files: a base file (parsed once)
 * and a list of edits to its YAML tree or to its text. Each edit says where
 * it hit (`target`), so a property can ask that an error names that place.
 */
import fc from 'fast-check';
import { type Document, isMap, isPair, isScalar, type Node, parseDocument, visit } from 'yaml';

/** One base file: its text, its parsed tree, and the path of every key in it. */
export interface BaseConfig {
  name: string;
  text: string;
  doc: Document;
  /** Every key path of the file, maps and scalars alike. */
  paths: string[][];
  /** The paths of maps (where a key can be added). */
  mapPaths: string[][];
}

export function baseConfig(name: string, text: string): BaseConfig {
  const doc = parseDocument(text);
  const paths: string[][] = [];
  const mapPaths: string[][] = [[]];
  visit(doc, {
    Pair(_key, pair, ancestry) {
      if (!isScalar(pair.key)) return;
      const path = [...ancestry.filter(isPair).map((p) => String((p.key as { value: unknown }).value)), String(pair.key.value)];
      paths.push(path);
      if (isMap(pair.value)) mapPaths.push(path);
    },
  });
  // fast-check prints a failing case's base by name, not as the whole file.
  return { name, text, doc, paths, mapPaths, [fc.toStringMethod]: () => name } as BaseConfig;
}

/** An edit to the tree: the value at `path` replaced, a key added or removed or renamed. */
export type TreeEdit =
  | { kind: 'set'; path: string[]; value: unknown }
  | { kind: 'setRaw'; path: string[]; yaml: string }
  | { kind: 'add'; path: string[]; key: string; value: unknown }
  | { kind: 'delete'; path: string[] }
  | { kind: 'rename'; path: string[]; key: string };

/** An edit to the text: what a hand editor or a bad template does. */
export type TextEdit =
  | { kind: 'duplicateLine'; line: number }
  | { kind: 'tabIndent'; line: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'wrap'; before: string; after: string };

export type Edit = TreeEdit | TextEdit;

export interface Mutation {
  base: BaseConfig;
  tree: TreeEdit[];
  text: TextEdit[];
}

/** Durations, sizes and numbers as people get them wrong. */
const BAD_UNITS = [
  '10x', '1 minute', '-5s', '5', '60', '0', '1.5h', '9999999999999h', '1e3s', '10s10', 'µs', '1h-1m', '+1m', '.5s', '.s', 's',
  '4GiB', '4 Gi', '4Gi', '-1', '-1GiB', '4GX', '1e400', '1e-400', '0x10', '0o17', '0b101', '1_000', '4.5EiB', '16EiB', '8EiB',
  '9223372036854775807', '9223372036854775808', '18446744073709551616', '1e19', '-9223372036854775808',
  'NaN', 'nan', '.nan', 'Infinity', '-Infinity', '.inf', '-.inf', '-0', '0.0', '00', '1.', '.1', '1e', 'e1', 'E', 'EiB', 'B',
  '', ' ', '\t', '\n', 'true', 'yes', 'on', 'null', '~',
];

/** Scalars with YAML-level meaning: tags, anchors, aliases, block scalars, odd numbers. */
const RAW_YAML = [
  '!!binary aGVsbG8=', '!!timestamp 2001-12-14t21:59:43.10-05:00', '!!str 10', '!!int "12"', '!!float .nan', '!!null ""',
  '!!bool yes', '!custom value', '!!set {a, b}', '!!omap [a: 1]', '!!pairs [a: 1, a: 2]', '&anchor 5', '.inf', '-.inf', '.NaN',
  '0x1F', '0o17', '+12', '1e400', '-1e400', '12e', '0.', '|\n  block\n  text', '>-\n  folded', '[1, [2, [3, [4]]]]',
  '{a: {b: {c: {d: {}}}}}', '[]', '{}', '""', "''", '~', 'null', 'Null', 'NULL', 'y', 'n', 'Off', '2001-12-14', '12:30:45',
  '"\\u0000"', '"\\uD800"', '"a\\tb"', '? complex\n: key',
];

/** Keys as nobody should write them, unicode included. */
const keyArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }),
  fc.constantFrom('SAMPLE', 'Clusters', '<<', 'on', 'yes', 'null', '~', '-', ':', '#', '&a', '*a', '!', '%', '@', '`', '"', "'", ' ', '\u00a0', 'Ω', '🚀', 'ｆｕｌｌ', 'TimeoutIdel', 'maxinstances', 'MaxInstances'),
);

/** Any value JSON or YAML can hold, at most a few levels deep. */
const garbageArb: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { maxDepth: 4, depthIdentifier: 'garbage' },
    fc.string({ maxLength: 20 }),
    fc.string({ unit: 'grapheme', maxLength: 10 }),
    fc.integer(),
    fc.double(),
    fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, 1e300, -1e300, 2 ** 63, -(2 ** 63), 1e21, 5e-324, -0),
    fc.bigInt({ min: -(2n ** 90n), max: 2n ** 90n }),
    fc.boolean(),
    fc.constant(null),
    fc.constantFrom(...BAD_UNITS),
    fc.tuple(fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.double({ noNaN: true })), fc.constantFrom('s', 'm', 'h', 'ms', 'x', 'GiB', 'Gi', ' Gi', 'GB', 'KiB', 'iB', 'TB', ''))
      .map(([n, u]) => `${n}${u}`),
    fc.array(tie('value'), { maxLength: 3, depthIdentifier: 'garbage' }),
    fc.dictionary(keyArb, tie('value'), { maxKeys: 3, depthIdentifier: 'garbage' }),
  ),
})).value;

/** In a cluster config, the keys the daemon reads: under Clusters.<id>, these sections. */
export const CLUSTER_KEYS_READ = (p: string[]): boolean => p.length >= 2 && /^(Containers|InstanceTypes|Services|SystemLogs|TLS|API|PostgreSQL|ManagementToken|SystemRootToken)$/.test(p[2] ?? '');

function treeEditArb(base: BaseConfig, focus: (path: string[]) => boolean): fc.Arbitrary<TreeEdit> {
  // Most edits hit the keys the daemon reads (`focus`); the rest anywhere in the file.
  const read = base.paths.filter(focus);
  const anywhere = fc.constantFrom(...base.paths);
  const path = read.length > 0 ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...read) }, { weight: 1, arbitrary: anywhere }) : anywhere;
  const mapPath = fc.constantFrom(...base.mapPaths);
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), path, value: garbageArb }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('setRaw' as const), path, yaml: fc.constantFrom(...RAW_YAML) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('add' as const), path: mapPath, key: keyArb, value: garbageArb }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), path }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('rename' as const), path, key: keyArb }) },
  );
}

const textEditArb: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.record({ kind: fc.constant('duplicateLine' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('tabIndent' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(fc.constantFrom('\t', '\n', ': ', '- ', '&a ', '*a', '*nowhere ', '!!binary ', '<<: *a\n', '{', '[', '"', "'", '#', '\u0000', '\ufeff', '\r', '---\n', '...\n'), fc.string({ unit: 'grapheme', maxLength: 6 })),
  }),
  fc.record({
    kind: fc.constant('wrap' as const),
    before: fc.constantFrom('', '%YAML 1.1\n---\n', '%YAML 1.2\n---\n', '%TAG ! tag:example.com,2000:\n---\n', '---\n', '\ufeff', 'x: &a {}\n', '--- !!map\n', '# only a comment\n'),
    after: fc.constantFrom('', '\n---\nClusters: {}\n', '\n---\n', '\n...\n', '\nClusters: {yyyyy: {}}\n', '\nextra: [\n', '\n<<: {Clusters: {}}\n'),
  }),
);

/** A base file and one to three edits of its tree (mostly where `focus` says), plus now and then an edit of its text. */
export function mutationArb(bases: BaseConfig[], focus: (path: string[]) => boolean = CLUSTER_KEYS_READ): fc.Arbitrary<Mutation> {
  return fc.constantFrom(...bases).chain((base) =>
    fc.record({
      base: fc.constant(base),
      tree: fc.array(treeEditArb(base, focus), { minLength: 1, maxLength: 3 }),
      text: fc.oneof({ weight: 4, arbitrary: fc.constant([] as TextEdit[]) }, { weight: 1, arbitrary: fc.array(textEditArb, { minLength: 1, maxLength: 2 }) }),
    }),
  );
}

function nodeFor(doc: Document, value: unknown): Node {
  return doc.createNode(value) as Node;
}

/** The YAML text of a mutation. */
export function applyMutation(m: Mutation): string {
  const doc = m.base.doc.clone();
  const raw: string[] = [];
  for (const e of m.tree) applyTreeEdit(doc, e, raw);
  let text = doc.toString({ lineWidth: 0 });
  // Raw YAML goes in as text, where a placeholder scalar stands; its later lines indented under the key.
  raw.forEach((yaml, i) => {
    text = text.replace(new RegExp(`^(.*)${placeholder(i)}(.*)$`, 'm'), (_all, head: string, tail: string) => {
      const indent = ' '.repeat(head.length - head.trimStart().length + 2);
      return head + yaml.split('\n').join(`\n${indent}`) + tail;
    });
  });
  for (const e of m.text) text = applyTextEdit(text, e);
  return text;
}

const placeholder = (i: number): string => `RAW-YAML-PLACEHOLDER-${i}`;

function applyTreeEdit(doc: Document, e: TreeEdit, raw: string[]): void {
  // An earlier edit may have replaced a parent with a scalar: then this one has nowhere to go.
  const parent = e.path.length === 0 ? doc.contents : doc.getIn(e.path.slice(0, -1), true);
  const parentIsMap = e.path.length === 0 || isMap(parent);
  switch (e.kind) {
    case 'set':
      if (parentIsMap) doc.setIn(e.path, nodeFor(doc, e.value));
      return;
    case 'setRaw':
      if (!parentIsMap) return;
      doc.setIn(e.path, placeholder(raw.length));
      raw.push(e.yaml);
      return;
    case 'add': {
      const target = e.path.length === 0 ? doc.contents : doc.getIn(e.path, true);
      if (isMap(target)) target.set(nodeFor(doc, e.key), nodeFor(doc, e.value));
      return;
    }
    case 'delete':
      if (parentIsMap) doc.deleteIn(e.path);
      return;
    case 'rename': {
      const map = e.path.length === 1 ? doc.contents : parent;
      if (!isMap(map)) return;
      const pair = map.items.find((p) => isScalar(p.key) && String(p.key.value) === e.path[e.path.length - 1]);
      if (pair) pair.key = nodeFor(doc, e.key);
      return;
    }
  }
}

function applyTextEdit(text: string, e: TextEdit): string {
  const lines = text.split('\n');
  switch (e.kind) {
    case 'duplicateLine': {
      const i = e.line % lines.length;
      lines.splice(i, 0, lines[i]);
      return lines.join('\n');
    }
    case 'tabIndent': {
      const i = e.line % lines.length;
      lines[i] = lines[i].replace(/^ {1,2}/, '\t');
      return lines.join('\n');
    }
    case 'truncate':
      return text.slice(0, e.at % (text.length + 1));
    case 'insert': {
      const at = e.at % (text.length + 1);
      return text.slice(0, at) + e.text + text.slice(at);
    }
    case 'wrap':
      return e.before + text + e.after;
  }
}

/** The paths the tree edits aimed at (for a rename, the new key's). */
export function editTargets(m: Mutation): string[][] {
  return m.tree.map((e) => (e.kind === 'rename' ? [...e.path.slice(0, -1), e.key] : e.kind === 'add' ? [...e.path, e.key] : e.path));
}
