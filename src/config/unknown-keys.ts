/**
 * Warnings for config keys that neither Arvados nor this daemon knows, as
 * Arvados's own loader gives them: every key of the file is compared with
 * the keys of Arvados's config.default.yml (`reference-defaults.ts`), at any depth,
 * and each unknown one is named by its full YAML path. They are warnings,
 * never errors: the file is shared by every Arvados service, and a key
 * added for another one (or for a newer release) must not keep this daemon
 * down. `check-config` fails on them unless told `--strict=false`.
 */
import { closestKey, isMap, type Path, type Problems } from './fields.js';
import { REFERENCE_CLUSTER_DEFAULTS } from './reference-defaults.js';

/**
 * A known key: a map of the keys it may hold (`SAMPLE` meaning any key), a
 * value (null), or ANY: a map whose keys someone else checks.
 */
type KeyNode = Map<string, KeyNode> | null | typeof ANY;

const ANY = Symbol('any keys');

/** Stands for any key in a map of free-form keys (InstanceTypes, InternalURLs, ...). */
const SAMPLE = 'SAMPLE';

/**
 * Keys whose contents are checked elsewhere: each cloud driver reads and
 * warns about its own DriverParameters (and this daemon has drivers
 * Arvados's defaults know nothing of).
 */
const CHECKED_ELSEWHERE: readonly Path[] = [['Clusters', SAMPLE, 'Containers', 'CloudVMs', 'DriverParameters']];

/**
 * Keys of older Arvados releases that its defaults no longer list, with what
 * becomes of them and what to write instead; the path's `SAMPLE` stands for
 * any key. They get this message instead of "unknown key".
 */
const OLD_KEYS: ReadonlyArray<{ path: Path; message: string }> = [
  {
    path: ['Clusters', SAMPLE, 'NodeProfiles'],
    message:
      'deprecated: each profile\'s arvados-dispatch-cloud Listen is still taken as an entry of Services.DispatchCloud.InternalURLs, as Arvados takes it; write that entry instead',
  },
  {
    path: ['Clusters', SAMPLE, 'InstanceTypes', SAMPLE, 'CUDA'],
    message:
      'no longer read (Arvados 3.3 dropped the CUDA section), so this type has no GPU unless it has a GPU section: write GPU with Stack: cuda, DriverVersion, HardwareTarget (the old HardwareCapability), DeviceCount and VRAM',
  },
  { path: ['Clusters', SAMPLE, 'InstanceTypes', SAMPLE, 'Scratch'], message: 'ignored, as Arvados ignores it: the scratch space of a type is IncludedScratch + AddedScratch' },
  { path: ['Clusters', SAMPLE, 'InstanceTypes', SAMPLE, 'Name'], message: 'ignored: the name of a type is its key under InstanceTypes' },
];

let known: Map<string, KeyNode> | undefined;

/**
 * The known keys as a tree (built once): every cluster ID may hold the keys
 * of Arvados's defaults; beside Clusters, the file's top level has only
 * AutoReloadConfig.
 */
function knownKeys(): Map<string, KeyNode> {
  if (!known) {
    known = new Map<string, KeyNode>([
      ['Clusters', new Map([[SAMPLE, keyTree(REFERENCE_CLUSTER_DEFAULTS)]])],
      ['AutoReloadConfig', null],
    ]);
    for (const path of CHECKED_ELSEWHERE) {
      const parent = nodeAt(known, path.slice(0, -1));
      if (parent instanceof Map) parent.set(path[path.length - 1], ANY);
    }
  }
  return known;
}

/** The keys of a default value: a map's, at every depth; a value that is not a map has none (null). */
function keyTree(value: unknown): KeyNode {
  if (!isMap(value)) return null;
  return new Map(Object.entries(value).map(([k, v]) => [k, keyTree(v)]));
}

function nodeAt(root: Map<string, KeyNode>, path: Path): KeyNode | undefined {
  let node: KeyNode | undefined = root;
  for (const key of path) {
    if (!(node instanceof Map)) return undefined;
    node = node.get(key);
  }
  return node;
}

/**
 * Warns about every key of the file that is not known, at any depth (every
 * cluster's section included). A key named SAMPLE is passed over, with what
 * it holds, as Arvados passes it over: copied from the defaults, it is no
 * misspelling.
 */
export function warnUnknownKeys(problems: Problems, root: Record<string, unknown>): void {
  walk(problems, knownKeys(), root, [], []);
}

/** `path` is where `supplied` is in the file; `pattern` the same path with SAMPLE for free-form keys. */
function walk(problems: Problems, expected: Map<string, KeyNode>, supplied: Record<string, unknown>, path: Path, pattern: Path): void {
  const free = expected.get(SAMPLE);
  for (const [key, value] of Object.entries(supplied)) {
    if (key === SAMPLE) continue;
    const childPath = [...path, key];
    let child: KeyNode | undefined;
    let childPattern: Path;
    if (free !== undefined) {
      child = free;
      childPattern = [...pattern, SAMPLE];
    } else {
      child = expected.get(key);
      childPattern = [...pattern, key];
      if (child === undefined) {
        if (!oldKey(problems, childPath, childPattern)) unknownKey(problems, childPath, [...expected.keys()]);
        continue;
      }
    }
    if (child === ANY || !isMap(value)) continue;
    if (child === null) {
      // Arvados says the same: a map where its defaults have a single value.
      problems.warn(childPath, 'unexpected map: Arvados expects a single value here');
      continue;
    }
    walk(problems, child, value, childPath, childPattern);
  }
}

function oldKey(problems: Problems, path: Path, pattern: Path): boolean {
  const entry = OLD_KEYS.find((e) => e.path.length === pattern.length && e.path.every((k, i) => k === pattern[i]));
  if (entry) problems.warn(path, entry.message);
  return entry !== undefined;
}

function unknownKey(problems: Problems, path: Path, siblings: readonly string[]): void {
  const hint = closestKey(path[path.length - 1], siblings);
  problems.warn(path, `unknown key${hint ? ` (did you mean ${hint}?)` : ''}`);
}
