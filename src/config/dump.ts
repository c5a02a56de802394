/**
 * The compiled config written back for people (check-config): durations and
 * sizes with units again, secrets replaced by "[REDACTED]", in the shape of
 * an Arvados config file, so the output can be read like one and, secrets
 * apart, loaded again as one.
 */
import { stringify } from 'yaml';
import type { Cluster, InstanceType } from './types.js';
import { type Field, SECRET_KEY } from './fields.js';
import { API_FIELDS, CLOUD_VMS_FIELDS, CONTAINERS_FIELDS, GPU_FIELDS, INSTANCE_TYPE_FIELDS } from './schema.js';
import { type Settings, SETTINGS_FIELDS } from './settings.js';
import { formatByteSize, formatDuration, withoutFloatNoise } from './units.js';
import { REDACTED } from '../log.js';

/** What replaces a non-empty secret. */
export { REDACTED } from '../log.js';


/** The compiled cluster as a plain object shaped like `{Clusters: {<id>: {...}}}`. */
export function clusterForDisplay(cluster: Cluster): Record<string, unknown> {
  const { CloudVMs, DispatchPrivateKey, ...containers } = cluster.Containers;
  return {
    Clusters: {
      [cluster.ClusterID]: {
        ManagementToken: redact(cluster.ManagementToken),
        SystemRootToken: redact(cluster.SystemRootToken),
        Services: {
          Controller: { ExternalURL: cluster.Services.Controller.ExternalURL },
          Websocket: { ExternalURL: cluster.Services.Websocket.ExternalURL },
          DispatchCloud: { InternalURLs: Object.fromEntries(cluster.Services.DispatchCloud.InternalURLs.map((url) => [url, internalURLForDisplay(cluster, url)])) },
        },
        TLS: { ...cluster.TLS, Key: redactInlineKey(cluster.TLS.Key) },
        API: withUnits(API_FIELDS, cluster.API),
        SystemLogs: { ...cluster.SystemLogs },
        Containers: {
          DispatchPrivateKey: redact(DispatchPrivateKey),
          ...withUnits(CONTAINERS_FIELDS, containers),
          CloudVMs: {
            ...withUnits(CLOUD_VMS_FIELDS, CloudVMs),
            DriverParameters: redactParameters(CloudVMs.DriverParameters),
          },
        },
        InstanceTypes: Object.fromEntries(Object.entries(cluster.InstanceTypes).map(([name, it]) => [name, instanceTypeForDisplay(it)])),
        PostgreSQL: { ConnectionPool: cluster.PostgreSQL.ConnectionPool, Connection: redactParameters(cluster.PostgreSQL.Connection) },
      },
    },
  };
}

/** `clusterForDisplay` as YAML text. */
export function clusterToYAML(cluster: Cluster): string {
  // YAML 1.1 output quotes strings such as "yes" and "on", which the loader
  // (like Arvados) would read back as booleans.
  return stringify(clusterForDisplay(cluster), { version: '1.1', lineWidth: 0 });
}

/** The compiled settings as a settings file would give them: every key, durations with units. */
export function settingsForDisplay(settings: Settings): Record<string, unknown> {
  const fields: Record<string, Record<string, Field<unknown>>> = SETTINGS_FIELDS;
  return Object.fromEntries(Object.entries(settings).map(([section, values]) => [section, withUnits(fields[section] ?? {}, values as object)]));
}

/**
 * The settings as a YAML document of their own, after a comment naming the
 * file they came from (`source`, and whether it was `found`): check-config
 * prints it after the cluster config, so each part can be read, and loaded
 * again, as the file it stands for.
 */
export function settingsToYAML(settings: Settings, source: string, found: boolean): string {
  const where = found ? source : `${source} does not exist`;
  const heading = `# arvados-dispatch-cloud's own settings file, not part of the cluster config (${where}); every default filled in\n`;
  return `---\n${heading}${stringify(settingsForDisplay(settings), { version: '1.1', lineWidth: 0 })}`;
}

/** A type as a config file gives it: Name is the key and Scratch the sum of two keys, so neither is a key of its own. */
function instanceTypeForDisplay(it: InstanceType): Record<string, unknown> {
  const { GPU, Name: _name, Scratch: _scratch, ...rest } = it;
  return { ...withUnits(INSTANCE_TYPE_FIELDS, rest), GPU: withUnits(GPU_FIELDS, GPU) };
}

/** Copies `values`, writing the fields the table calls durations or sizes with units, and numbers without float noise. */
export function withUnits(fields: Record<string, Field<unknown>>, values: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    const kind = fields[key]?.kind;
    const show = fields[key]?.show;
    if (show) out[key] = show(value);
    else if (kind === 'duration' && typeof value === 'number') out[key] = formatDuration(value);
    else if (kind === 'size' && typeof value === 'number') out[key] = formatByteSize(value);
    else if (kind === 'number' && typeof value === 'number' && Number.isFinite(value)) out[key] = withoutFloatNoise(value);
    else out[key] = value;
  }
  return out;
}

function internalURLForDisplay(cluster: Cluster, url: string): Record<string, string> {
  const listen = cluster.Services.DispatchCloud.ListenURLs[url];
  return listen === undefined ? {} : { ListenURL: listen };
}

/** TLS.Key: a file reference names where the key is and is shown; anything else may be the key itself. */
function redactInlineKey(value: string): string {
  return value.startsWith('/') || value.startsWith('file://') ? value : redact(value);
}

function redact(secret: string): string {
  return secret === '' ? '' : REDACTED;
}

/** Copies driver parameters with the values of secret-looking keys replaced, at any depth. */
export function redactParameters(params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params)) {
    if (SECRET_KEY.test(key)) out[key] = isEmpty(value) ? value : REDACTED;
    else if (typeof value === 'object' && value !== null && !Array.isArray(value)) out[key] = redactParameters(value as Record<string, unknown>);
    else out[key] = value;
  }
  return out;
}

function isEmpty(value: unknown): boolean {
  return value === '' || value === null || value === undefined;
}
