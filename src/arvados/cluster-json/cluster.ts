/**
 * The whole cluster config as the reference dispatcher hands it to
 * crunch-run (`Cluster` in the `--stdin-config` JSON): what the reference's
 * loader would have made of the same config file, written by Go's
 * `encoding/json` from its `arvados.Cluster` struct.
 *
 * The steps follow the reference's loader: the cluster's section of the file
 * is merged over the defaults (maps merged key by key, null values ignored,
 * anything else replaced), a config with no storage classes gets the
 * implicit "default" class, and a v2 AnonymousUserToken is cut down to its
 * secret. Then every value this daemon compiled itself (durations, sizes,
 * instance types with their preemptible variants, and any value set in code
 * rather than in the file) is laid over it, so crunch-run sees the config
 * the dispatcher runs on.
 */
import type { Cluster, InstanceType } from '../../config/types.js';
import { formatDuration } from '../../config/units.js';
import { REFERENCE_CLUSTER_DEFAULTS } from '../../config/reference-defaults.js';
import { encodeGo } from './encode.js';
import { isMap } from '../../config/fields.js';
import { goEscapeHTML, goIndent } from './go-json.js';
import { CLUSTER, type GoField, type GoKind, INSTANCE_TYPE } from './schema.js';

type ConfigMap = Record<string, unknown>;

let defaults: ConfigMap | undefined;

/**
 * The reference's defaults as its loader merges a cluster's section over
 * them: without the SAMPLE entries, which only document what a map's keys
 * look like.
 */
export function clusterDefaults(): ConfigMap {
  const strip = (v: unknown): unknown =>
    isMap(v) ? Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'SAMPLE').map(([k, x]) => [k, strip(x)])) : v;
  defaults ??= strip(REFERENCE_CLUSTER_DEFAULTS) as ConfigMap;
  return defaults;
}

/** Memo of `clusterJSON`: a cluster's config does not change once compiled. */
const encoded = new WeakMap<Cluster, string>();

/** `cluster` as the reference's Go `encoding/json` writes its `arvados.Cluster`. */
export function clusterJSON(cluster: Cluster): string {
  let json = encoded.get(cluster);
  if (json === undefined) {
    json = goEscapeHTML(encodeGo(CLUSTER, clusterConfigTree(cluster)));
    encoded.set(cluster, json);
  }
  return json;
}

const forWorkers = new WeakMap<Cluster, string>();

/**
 * `clusterJSON` as the workers get it (crunch-run's `Cluster`, which it
 * hands to the container's local keepstore), without the two secrets that
 * only the dispatcher uses: `Containers.DispatchPrivateKey` (SSH to every
 * worker) and `Containers.CloudVMs.DriverParameters` (the cloud account's
 * credentials). The reference sends them too; neither crunch-run nor
 * keepstore reads them, and a worker that a container escaped from should
 * not hold the keys to the others and to the cloud account.
 */
export function workerClusterJSON(cluster: Cluster): string {
  let json = forWorkers.get(cluster);
  if (json === undefined) {
    const tree = clusterConfigTree(cluster);
    const containers = isMap(tree.Containers) ? tree.Containers : {};
    const cloudVMs = isMap(containers.CloudVMs) ? containers.CloudVMs : {};
    tree.Containers = { ...containers, DispatchPrivateKey: '', CloudVMs: { ...cloudVMs, DriverParameters: {} } };
    json = goEscapeHTML(encodeGo(CLUSTER, tree));
    forWorkers.set(cluster, json);
  }
  return json;
}

/**
 * An instance type record as the reference sends it in crunch-run's
 * `InstanceType` variable: Go's indented JSON of `arvados.InstanceType`
 * (no Name, no Scratch), with a trailing newline.
 */
export function instanceTypeJSON(it: InstanceType): string {
  return goIndent(encodeGo(INSTANCE_TYPE, configForm(INSTANCE_TYPE, it)));
}

/**
 * The merged config tree the encoder reads, in config-file form (what the
 * reference decodes into its struct; the test fixtures were recorded from it).
 */
export function clusterConfigTree(cluster: Cluster): ConfigMap {
  const fromFile = mergeConfig(clusterDefaults(), cluster.RawSection ?? {});
  // The key text as written in the file is what the reference passes on; the
  // compiled one holds the key file's contents when the file names one.
  const { DispatchPrivateKey: _key, ...containers } = cluster.Containers;
  const compiled = configForm(CLUSTER, { ...cluster, Containers: containers, InstanceTypes: undefined });
  const tree = mergeConfig(fromFile, compiled === SKIP ? {} : compiled) as ConfigMap;
  // The compiled instance types are the whole menu: they replace the file's.
  tree.InstanceTypes = configForm(CLUSTER.struct.InstanceTypes as GoKind, cluster.InstanceTypes);
  setImplicitStorageClasses(tree);
  const users = tree.Users;
  if (isMap(users) && typeof users.AnonymousUserToken === 'string' && users.AnonymousUserToken.split('/').length === 4) {
    tree.Users = { ...users, AnonymousUserToken: users.AnonymousUserToken.split('/')[2] };
  }
  return tree;
}

/**
 * `src` merged over `dst` as the reference's loader merges a config over its
 * defaults: maps key by key, null values skipped, anything else (lists
 * included) replacing what was there. Returns new maps; neither input changes.
 */
function mergeConfig(dst: unknown, src: unknown): unknown {
  if (!isMap(src)) return src;
  const out: ConfigMap = {};
  if (isMap(dst)) for (const [k, v] of Object.entries(dst)) defineKey(out, k, v);
  for (const [k, v] of Object.entries(src)) {
    if (v === null || v === undefined) continue;
    defineKey(out, k, mergeConfig(Object.hasOwn(out, k) ? out[k] : undefined, v));
  }
  return out;
}

/** Sets `obj[key]` as an own property, even for a key such as `__proto__`. */
function defineKey(obj: ConfigMap, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * With no storage class configured anywhere, the reference gives every
 * volume, and the cluster, one class "default" (the default class).
 */
function setImplicitStorageClasses(tree: ConfigMap): void {
  const hasKeys = (v: unknown): boolean => isMap(v) && Object.keys(v).length > 0;
  if (hasKeys(tree.StorageClasses)) return;
  const volumes = isMap(tree.Volumes) ? tree.Volumes : {};
  if (Object.values(volumes).some((vol) => isMap(vol) && hasKeys(vol.StorageClasses))) return;
  if (isMap(tree.Volumes)) {
    const withClass: ConfigMap = {};
    for (const [id, vol] of Object.entries(volumes)) defineKey(withClass, id, { ...(isMap(vol) ? vol : {}), StorageClasses: { default: true } });
    tree.Volumes = withClass;
  }
  tree.StorageClasses = { default: { Default: true } };
}

const SKIP = Symbol('no value');

function fieldKind(field: GoField): GoKind {
  return typeof field === 'object' && 'omitempty' in field ? field.kind : (field as GoKind);
}

/**
 * A compiled value back in config-file form, for the fields of `kind` it
 * has: durations (milliseconds) as Go duration text, everything else as is.
 * A value whose shape does not fit the field (the compiled InternalURLs list,
 * say) is left out, so the file's value stands.
 */
function configForm(kind: GoKind, v: unknown): unknown {
  if (v === undefined) return SKIP;
  if (typeof kind !== 'string') {
    if (!isMap(v)) return SKIP;
    const out: ConfigMap = {};
    const entries: [string, GoKind][] =
      'struct' in kind ? Object.entries(kind.struct).map(([k, f]) => [k, fieldKind(f)]) : Object.keys(v).map((k) => [k, kind.map]);
    for (const [k, elem] of entries) {
      const x = Object.hasOwn(v, k) ? configForm(elem, v[k]) : SKIP;
      if (x !== SKIP) defineKey(out, k, x);
    }
    return out;
  }
  switch (kind) {
    case 'duration':
      return typeof v === 'number' ? formatDuration(v) : typeof v === 'string' ? v : SKIP;
    case 'string':
    case 'url':
    case 'tlsVersion':
      return typeof v === 'string' ? v : SKIP;
    case 'bool':
      return typeof v === 'boolean' ? v : SKIP;
    case 'int':
    case 'float':
    case 'bytesize':
      return typeof v === 'number' ? v : SKIP;
    case 'bytesizeOrPercent':
      return typeof v === 'number' || typeof v === 'string' ? v : SKIP;
    case 'set':
    case 'stringMap':
    case 'boolMap':
      return isMap(v) ? v : SKIP;
    case 'stringList':
      return Array.isArray(v) ? v : SKIP;
    case 'rawJSON':
    case 'any':
      return v;
  }
}
