/**
 * Loads an Arvados cluster config file (`/etc/arvados/config.yml`) into the
 * compiled, fully-defaulted `Cluster` the daemon runs on.
 *
 * The file is the whole cluster's config, shared by every Arvados component.
 * What Arvados refuses (a value of the wrong type, a bad cluster ID) is an
 * error; what it accepts is at most a warning, so a config the other
 * services start on starts this daemon too: keys that neither Arvados's
 * defaults nor this daemon know, dubious values, deprecated forms. A few
 * values Arvados refuses are read here with a warning that says so (an
 * unquoted number in a string field, InstanceTypes as a list), as earlier
 * versions of this daemon took them. All problems are reported together,
 * each as `Clusters.zzzzz.Some.Key: what was expected`.
 */
import { readFileSync } from 'node:fs';
import { isCollection, isPair, isScalar, visit, type Document, type DocumentOptions, type Scalar, type ParseOptions, type SchemaOptions, type ScalarTag, type YAMLError } from 'yaml';
import type { Cluster } from './types.js';
import { attachRawSection } from './copy.js';
import { isMap, Problems, readMap, type Path, type ReadContext } from './fields.js';
import { clusterWarnings, compileCluster } from './cluster.js';
import { warnReferenceTypeMismatches } from './reference-types.js';
import { warnUnknownKeys } from './unknown-keys.js';
import type { LegacyEnv } from './legacy-env.js';
import { applyNodeProfiles } from './node-profiles.js';
import { atLine, offsetLines, placer, yamlWhere } from './locate.js';
import { applyGoYAMLMerges, applyGoYAMLNumbers, type DecodedYAML, decodeYAMLBytes, parseFirstDocument } from './go-yaml.js';

export { daemonConfigProblems, dispatcherConfigErrors } from './cluster.js';

/** The config is unusable; `errors` lists every problem found, one line each. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly errors: string[],
    /** Warnings found on the way, worth showing with the errors. */
    readonly warnings: string[] = [],
  ) {
    super(errors.join('\n'));
  }
}

/** One file's outcome, for reporting the problems of several files together: what it compiled to, or its errors; its warnings either way. */
export interface LoadAttempt<T> {
  loaded?: T;
  errors: string[];
  warnings: string[];
}

/** Runs `load`, turning a ConfigError into its errors and warnings; other errors are thrown on. */
export function tryLoad<T extends { warnings: string[] }>(load: () => T): LoadAttempt<T> {
  try {
    const loaded = load();
    return { loaded, errors: [], warnings: loaded.warnings };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { errors: err.errors, warnings: err.warnings };
  }
}

export interface LoadOptions {
  /** Which cluster to use when the file defines several (the `--cluster` option). */
  clusterId?: string;
  /**
   * The environment whose old variables (ARVADOS_API_TOKEN, ARVADOS_API_HOST,
   * ARVADOS_API_HOST_INSECURE) fill in what the file leaves empty, as the
   * reference's loader does (legacy-env.ts), and ARVADOS_NODE_PROFILE, which
   * names this host's NodeProfiles profile (node-profiles.ts); none when
   * absent. The daemon and check-config pass the process's.
   */
  env?: LegacyEnv;
  /** This host's name, which a NodeProfiles profile may be named for (node-profiles.ts); default os.hostname(). */
  hostname?: string;
  /**
   * Leave `Containers.DispatchPrivateKey` unread (empty in the result): for
   * the `instances` and `containers` commands, which need only the URL and
   * token and may run as a user, or on a host, that cannot read the key file,
   * as the reference's `arvados-server instance` commands can.
   */
  skipPrivateKey?: boolean;
}

export interface LoadResult {
  cluster: Cluster;
  /** Problems that do not stop check-config, one line each (see also `daemonConfigProblems`). */
  warnings: string[];
  /**
   * A problem line found after loading (`Clusters.zzzzz.Some.Key: ...`, from
   * the compiled cluster), with the file and line of that key before it when
   * the file writes it, as the loader's own lines have them.
   */
  place(line: string): string;
}

/** What was read from the standard input for the path "-": it can be read only once. */
let stdinConfig: Buffer | undefined;

/**
 * The bytes of the config file at `path`, or, for "-", of the standard input
 * (read to its end once, then kept), as the reference's loader takes "-".
 */
export function readConfigBytes(path: string): Buffer {
  if (path !== STDIN_PATH) return readFileSync(path);
  stdinConfig ??= readFileSync(0);
  return stdinConfig;
}

/** The config path that means the standard input. */
export const STDIN_PATH = '-';

/**
 * Reads and compiles a config file ("-": the standard input). Throws `ConfigError` for a file that
 * cannot be read or parsed and for every kind of bad config.
 */
export function loadConfigFile(path: string, opts: LoadOptions = {}): LoadResult {
  let decoded: DecodedYAML;
  try {
    decoded = decodeYAMLBytes(readConfigBytes(path));
  } catch (err) {
    throw new ConfigError([`${path}: cannot read the config file: ${(err as Error).message}`]);
  }
  const { text, invalidUTF8Line: badLine } = decoded;
  const encoding =
    badLine === undefined
      ? undefined
      : `${path}: line ${badLine}: not valid UTF-8 (each bad byte read as U+FFFD): the reference dispatcher refuses this file; switching back to it would fail to start`;
  try {
    const result = loadConfigText(text, { ...opts, source: path });
    if (encoding) result.warnings.unshift(encoding);
    return result;
  } catch (err) {
    if (encoding && err instanceof ConfigError) err.warnings.unshift(encoding);
    throw err;
  }
}

/** Compiles config text; `source` names it in YAML syntax errors (default "config"). */
export function loadConfigText(text: string, opts: LoadOptions & { source?: string } = {}): LoadResult {
  const source = opts.source ?? 'config';
  // Read as Arvados's YAML library reads it (go-yaml.ts): the first document only.
  const { doc, ignoredFromLine } = parseFirstDocument(text, YAML_OPTIONS);
  // Arvados reads a key given twice in one map, the last one winning.
  const duplicates = doc.errors.filter((e) => e.code === 'DUPLICATE_KEY');
  const fatal = doc.errors.filter((e) => e.code !== 'DUPLICATE_KEY');
  if (fatal.length > 0) throw new ConfigError(fatal.map((e) => yamlProblem(source, e)));
  const where = yamlWhere(doc, text, source);
  const problems = new Problems(where);
  if (ignoredFromLine !== undefined) {
    problems.warnings.push(`${source}: line ${ignoredFromLine}: another YAML document: ignored, as Arvados reads only the first document of the file`);
  }
  problems.warnings.push(...duplicates.map((e) => `${yamlProblem(source, e)}: the last one is used`));
  problems.warnings.push(...doc.warnings.map((e) => yamlProblem(source, e)));

  const collectionKeys = collectionKeyProblems(doc, text, source);
  if (collectionKeys.length > 0) throw new ConfigError(collectionKeys, problems.warnings);
  // Numbers and merge keys as Arvados reads them (YAML 1.1), where YAML 1.2 differs.
  applyGoYAMLNumbers(doc);
  applyGoYAMLMerges(doc);

  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new ConfigError([`${source}: ${(err as Error).message}`]);
  }
  // SAMPLE entries of the file are kept: Arvados drops SAMPLE only from its
  // own defaults, so in a site's file it names a real instance type, tag or
  // URL (compileCluster warns about those the dispatcher would use).

  const ctx: ReadContext = {
    problems,
    sourceText(path: Path) {
      const node = doc.getIn(path, true);
      return isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
    },
    readByReference: true,
  };
  if (!isMap(root)) throw new ConfigError([`${source}: expected a map with a Clusters key at the top level`]);
  // Unknown keys first, so one whose value is null is named too, as Arvados names it.
  warnUnknownKeys(problems, root);
  removeNullEntries(root);
  const picked = pickCluster(ctx, root, opts.clusterId);
  if (!picked) throw new ConfigError(problems.errors, problems.warnings);

  // Before compiling, as the reference migrates them before anything reads
  // its Services; the section crunch-run is given has the migrated URL too.
  const raw = applyNodeProfiles(ctx, picked.id, picked.raw, { env: opts.env ?? {}, hostname: opts.hostname });
  const cluster = compileCluster(ctx, picked.id, raw, opts.env, opts.skipPrivateKey);
  // After the keys this daemon read have said their own (one warning per key).
  warnReferenceTypeMismatches(ctx, root);
  // Not enumerable: comparisons and serialisations of the compiled cluster
  // leave it (and the secrets it holds) out; copyCluster keeps it in a copy.
  attachRawSection(cluster, raw);
  if (problems.errors.length > 0) throw new ConfigError(problems.errors, problems.warnings);
  const place = placer(where);
  return { cluster, warnings: [...problems.warnings, ...clusterWarnings(cluster).map(place)], place };
}

/**
 * Keys that are lists or maps (`? [a, b]: 1`), which Arvados's YAML decoder
 * refuses ("invalid map key"), or scalars tagged into objects (`!!binary`,
 * `!!timestamp`); turned into objects here they would become strings, with
 * a warning from the YAML library on stderr. Each line starts with where the
 * key is written (`file: line N`, or `line N` without `file`), as other
 * problem lines do, when `text` (what `doc` was parsed from) is given.
 */
export function collectionKeyProblems(doc: Document, text?: string, file?: string): string[] {
  // Such a key is not a path the file can be searched by: its line is noted as it is met.
  const lines = new Map<string, number>();
  const lineAt = text === undefined ? undefined : offsetLines(text);
  const problems = new Problems((path) => {
    const line = lines.get(JSON.stringify(path));
    return line === undefined ? undefined : atLine(line, file);
  });
  visit(doc, {
    Pair(_key, pair, ancestry) {
      // A tagged scalar can be an object too (!!binary bytes, !!timestamp a date): as a key it would be stringified, with a warning from the YAML library.
      const objectScalar = isScalar(pair.key) && typeof pair.key.value === 'object' && pair.key.value !== null;
      if (!isCollection(pair.key) && !objectScalar) return;
      const path = ancestry.filter(isPair).map((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)));
      const key = pair.key as Scalar;
      const shown = objectScalar && typeof key.source === 'string' ? `${(key.tag ?? '').replace('tag:yaml.org,2002:', '!!')} ${key.source}`.trim() : String(pair.key);
      const offset = key.range?.[0];
      if (lineAt !== undefined && offset !== undefined) lines.set(JSON.stringify([...path, shown]), lineAt(offset));
      problems.error([...path, shown], 'a key must be a single value (text or a number), not a list, a map, binary data or a timestamp');
    },
  });
  return problems.errors;
}

/** Finds the cluster to compile: the only one, or the one asked for. */
function pickCluster(ctx: ReadContext, root: Record<string, unknown>, wanted: string | undefined): { id: string; raw: Record<string, unknown> } | undefined {
  const clusters = readMap(ctx, root.Clusters, ['Clusters']);
  if (!clusters) return undefined;
  const ids = Object.keys(clusters);
  if (ids.length === 0) {
    ctx.problems.error(['Clusters'], 'config does not define any clusters');
    return undefined;
  }
  let id: string;
  if (wanted !== undefined) {
    if (!ids.includes(wanted)) {
      ctx.problems.error(['Clusters', wanted], `not defined in this config file (it defines ${ids.join(', ')})`);
      return undefined;
    }
    id = wanted;
  } else if (ids.length > 1) {
    ctx.problems.error(['Clusters'], `the config file defines several clusters (${ids.join(', ')}): choose one with --cluster`);
    return undefined;
  } else {
    id = ids[0];
  }
  const raw = readMap(ctx, clusters[id], ['Clusters', id]);
  return raw ? { id, raw } : undefined;
}

/**
 * Deletes every map entry whose value is null, at any depth (lists are left
 * as they are), as Arvados does before merging a file over its defaults: a
 * null scalar is then the default, and a null entry of a map of names is no
 * entry (`InstanceTypes: {x: ~}` is no type x, `ResourceTags: {k: ~}` no
 * tag, an InternalURLs entry `~` no URL). A cluster whose section is null
 * is still a cluster, with every default, as the reference counts its
 * clusters before that.
 */
function removeNullEntries(root: Record<string, unknown>): void {
  const clusters = root.Clusters;
  if (isMap(clusters)) {
    for (const [id, section] of Object.entries(clusters)) {
      // defineProperty: an id such as "__proto__" must stay a key.
      if (section === null) Object.defineProperty(clusters, id, { value: {}, enumerable: true, writable: true, configurable: true });
    }
  }
  const strip = (map: Record<string, unknown>): void => {
    for (const [key, value] of Object.entries(map)) {
      if (value === null) delete map[key];
      else if (isMap(value)) strip(value);
    }
  };
  strip(root);
}

/**
 * YAML 1.2 as the `yaml` package reads it, plus the YAML 1.1 booleans
 * (yes/no/on/off/y/n) of the Go YAML library Arvados uses, so `Enable: yes`
 * means what it means to the reference (for keys too: a key written `on`
 * becomes "true", as there). Duplicate keys are reported (as warnings, since
 * Arvados accepts them, the last one winning).
 */
const YAML_1_1_BOOL: ScalarTag = {
  tag: 'tag:yaml.org,2002:bool',
  default: true,
  test: /^(?:y|Y|yes|Yes|YES|on|On|ON|n|N|no|No|NO|off|Off|OFF)$/,
  resolve: (s: string) => /^(?:y|Y|yes|Yes|YES|on|On|ON)$/.test(s),
};

export const YAML_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  schema: 'core',
  merge: true,
  uniqueKeys: true,
  prettyErrors: true,
  customTags: (tags) => [YAML_1_1_BOOL, ...tags],
};

/** `config.yml: line 3, column 5: Map keys must be unique`. */
export function yamlProblem(source: string, e: YAMLError): string {
  const message = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
  const pos = e.linePos?.[0];
  return pos ? `${source}: line ${pos.line}, column ${pos.col}: ${message}` : `${source}: ${message}`;
}
