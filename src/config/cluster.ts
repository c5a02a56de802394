/**
 * Compiles one cluster's section of the config file into a `Cluster`, and
 * says what a starting daemon still needs that a config file may lack.
 */
import { readFileSync } from 'node:fs';
import type { CloudVMsConfig, Cluster } from './types.js';
import { LOG_FORMATS, type LogFormat } from '../log.js';
import { bool, isMap, readMap, readSection, readString, showPath, str, warnReferenceRefuses, type Path, type ReadContext } from './fields.js';
import { API_FIELDS, CLOUD_VMS_FIELDS, CONTAINERS_FIELDS } from './schema.js';
import { urlProblem, withHost } from './urls.js';
import { compileInstanceTypes } from './instance-types.js';
import { compilePostgreSQL } from './postgresql.js';
import { loopbackInstanceTypes } from './loopback.js';
import { applyLegacyEnv, type LegacyEnv } from './legacy-env.js';
import { REFERENCE_CLUSTER_DEFAULTS } from './reference-defaults.js';
import { crunchRunArgumentsProblems, runtimeEngineProblem } from './crunch-run-arguments.js';

/** Arvados's rule for cluster ids (lib/config/load.go checkClusterID). */
const CLUSTER_ID = /^[a-z0-9]{5}$/;

/** Arvados's rule for token characters and its advice on length (load.go checkToken). */
const TOKEN_CHARS = /^[a-zA-Z0-9]+$/;
const TOKEN_MIN_LENGTH = 32;

/** Levels Arvados (logrus) accepts, plus those of this daemon's logger. */
const LOG_LEVELS = ['trace', 'debug', 'verbose', 'info', 'warn', 'warning', 'error', 'fatal', 'panic'];

/** How a PEM private key starts ("-----BEGIN OPENSSH PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----", ...). */
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/** The key config.default.yml gives the example entry of a map whose keys are names (instance types, tags, URLs). */
const SAMPLE = 'SAMPLE';

/** `Containers.LocalKeepLogsToContainerLog`: which local keepstore logs crunch-run copies to the container's log. */
const KEEP_LOGS_VALUES: readonly unknown[] = ['none', 'all', 'errors'];

/**
 * Compiles `Clusters.<id>`; problems go to `ctx.problems`. `env` holds the old variables the reference falls back to (legacy-env.ts).
 * `skipPrivateKey` leaves `Containers.DispatchPrivateKey` unread and empty (see `LoadOptions`).
 */
export function compileCluster(ctx: ReadContext, id: string, raw: Record<string, unknown>, env: LegacyEnv = {}, skipPrivateKey = false): Cluster {
  const path: Path = ['Clusters', id];
  if (!CLUSTER_ID.test(id)) ctx.problems.error(path, 'cluster ID should be 5 alphanumeric characters (a-z, 0-9)');

  const top = readSection(ctx, raw, path, { ManagementToken: str(''), SystemRootToken: str('') }, { strict: false });
  const servicesPath = [...path, 'Services'];
  const services = readMap(ctx, raw.Services, servicesPath) ?? {};
  const controllerPath = [...servicesPath, 'Controller'];
  const controller = readSection(ctx, readMap(ctx, services.Controller, controllerPath) ?? {}, controllerPath, { ExternalURL: str('') }, { strict: false });
  const tlsPath = [...path, 'TLS'];
  const tlsRaw = readMap(ctx, raw.TLS, tlsPath) ?? {};
  const tls = readSection(ctx, tlsRaw, tlsPath, { Insecure: bool(false), Certificate: str(''), Key: str('') }, { strict: false });
  const acmePath = [...tlsPath, 'ACME'];
  const acme = readSection(ctx, readMap(ctx, tlsRaw.ACME, acmePath) ?? {}, acmePath, { Server: str('') }, { strict: false });
  // Before the checks, which the reference makes on what the fallback gave.
  const legacy = applyLegacyEnv(ctx, path, { SystemRootToken: top.SystemRootToken, ExternalURL: controller.ExternalURL, Insecure: tls.Insecure }, env);
  top.SystemRootToken = legacy.SystemRootToken;
  controller.ExternalURL = legacy.ExternalURL;
  tls.Insecure = legacy.Insecure;
  checkToken(ctx, [...path, 'ManagementToken'], top.ManagementToken);
  checkToken(ctx, [...path, 'SystemRootToken'], top.SystemRootToken);
  if (controller.ExternalURL !== '') checkURL(ctx, [...controllerPath, 'ExternalURL'], controller.ExternalURL);
  const websocketPath = [...servicesPath, 'Websocket'];
  const websocket = readSection(ctx, readMap(ctx, services.Websocket, websocketPath) ?? {}, websocketPath, { ExternalURL: str('') }, { strict: false });
  // Only the event feed reads it, and the reference dispatcher not at all, so
  // a value the feed cannot use turns the feed off rather than the daemon.
  const feedProblem = websocket.ExternalURL === '' ? undefined : urlProblem(websocket.ExternalURL, ['ws:', 'wss:', 'http:', 'https:']);
  if (feedProblem !== undefined) {
    ctx.problems.warn([...websocketPath, 'ExternalURL'], `${feedProblem}: no event feed, new containers are seen at the next poll (as the reference dispatcher, which does not read this key)`);
    websocket.ExternalURL = '';
  }
  const dispatchPath = [...servicesPath, 'DispatchCloud'];
  const dispatch = readMap(ctx, services.DispatchCloud, dispatchPath) ?? {};
  const internalPath = [...dispatchPath, 'InternalURLs'];
  // A map whose keys are the URLs (values hold per-URL settings such as
  // ListenURL). A SAMPLE key, copied from config.default.yml, is no URL:
  // the reference takes it as one with no host (and may listen on a random
  // port for it); here it is left out, with a warning.
  const internalMap = readMap(ctx, dispatch.InternalURLs, internalPath) ?? {};
  if (SAMPLE in internalMap) ctx.problems.warn([...internalPath, SAMPLE], 'not a URL: ignored (config.default.yml has this entry as an example)');
  const internalURLs = Object.keys(internalMap).filter((url) => url !== SAMPLE);
  const listenURLs: Record<string, string> = {};
  for (const url of internalURLs) {
    checkListenURL(ctx, [...internalPath, url], url);
    const entryPath = [...internalPath, url];
    const entry = readSection(ctx, readMap(ctx, internalMap[url], entryPath) ?? {}, entryPath, { ListenURL: str('') }, { strict: false });
    if (entry.ListenURL === '') continue;
    checkListenURL(ctx, [...entryPath, 'ListenURL'], entry.ListenURL);
    listenURLs[url] = entry.ListenURL;
  }

  const apiPath = [...path, 'API'];
  const api = readSection(ctx, readMap(ctx, raw.API, apiPath) ?? {}, apiPath, API_FIELDS, { strict: false });
  const logsPath = [...path, 'SystemLogs'];
  const logs = readSection(ctx, readMap(ctx, raw.SystemLogs, logsPath) ?? {}, logsPath, { LogLevel: str('info'), Format: str('json') }, { strict: false });
  // As in Arvados, an empty level or format means the default.
  if (logs.LogLevel === '') logs.LogLevel = 'info';
  if (logs.Format === '') logs.Format = 'json';
  if (logs.Format === 'plain') {
    ctx.problems.warn([...logsPath, 'Format'], 'plain (text without timestamps) is written as text here');
    logs.Format = 'text';
  }
  if (!LOG_LEVELS.includes(logs.LogLevel.toLowerCase())) {
    ctx.problems.error([...logsPath, 'LogLevel'], `expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logs.LogLevel)}`);
  } else if (logs.LogLevel.toLowerCase() === 'verbose' && ctx.readByReference) {
    // This daemon's logger has the level; Arvados's (logrus) has not, and exits at start on it.
    warnReferenceRefuses(ctx, [...logsPath, 'LogLevel'], 'an unknown log level: it takes trace, debug, info, warn, warning, error, fatal or panic');
  }
  if (!(LOG_FORMATS as readonly string[]).includes(logs.Format)) {
    ctx.problems.error([...logsPath, 'Format'], `expected one of ${LOG_FORMATS.join(', ')} (or plain), got ${JSON.stringify(logs.Format)}`);
  }

  const containersPath = [...path, 'Containers'];
  const containersRaw = readMap(ctx, raw.Containers, containersPath) ?? {};
  const containers = readSection(ctx, containersRaw, containersPath, CONTAINERS_FIELDS, { strict: false });
  // Read by crunch-run from the config it is given; the reference refuses any other value at start.
  const keepLogs = containersRaw.LocalKeepLogsToContainerLog;
  if (keepLogs !== undefined && keepLogs !== null && !KEEP_LOGS_VALUES.includes(keepLogs as string)) {
    ctx.problems.error([...containersPath, 'LocalKeepLogsToContainerLog'], `unacceptable value ${JSON.stringify(keepLogs)}: must be one of ${KEEP_LOGS_VALUES.map((v) => JSON.stringify(v)).join(', ')}`);
  }
  warnUnusedLocalKeepstore(ctx, path, raw, containers.LocalKeepBlobBuffersPerVCPU);
  const engineProblem = runtimeEngineProblem(containers.RuntimeEngine);
  if (engineProblem !== undefined) ctx.problems.warn([...containersPath, 'RuntimeEngine'], engineProblem);
  for (const problem of crunchRunArgumentsProblems(containers.CrunchRunArgumentsList, containers.RuntimeEngine)) {
    ctx.problems.warn([...containersPath, 'CrunchRunArgumentsList'], problem);
  }
  const keyPath = [...containersPath, 'DispatchPrivateKey'];
  const keyValue = containersRaw.DispatchPrivateKey;
  const privateKey = keyValue === undefined || keyValue === null || skipPrivateKey ? '' : (readPrivateKey(ctx, keyValue, keyPath) ?? '');
  const cloudPath = [...containersPath, 'CloudVMs'];
  const cloudVMs = readSection(ctx, readMap(ctx, containersRaw.CloudVMs, cloudPath) ?? {}, cloudPath, CLOUD_VMS_FIELDS, { strict: false });
  warnSampleEntries(ctx, path, raw.InstanceTypes, cloudVMs);

  return {
    ClusterID: id,
    ManagementToken: top.ManagementToken,
    SystemRootToken: top.SystemRootToken,
    Services: {
      Controller: { ExternalURL: controller.ExternalURL },
      Websocket: { ExternalURL: websocket.ExternalURL },
      DispatchCloud: { InternalURLs: internalURLs, ListenURLs: listenURLs },
    },
    TLS: { Insecure: tls.Insecure, Certificate: tls.Certificate, Key: tls.Key, ACME: { Server: acme.Server } },
    API: api,
    SystemLogs: { LogLevel: logs.LogLevel, Format: logs.Format as LogFormat },
    Containers: { DispatchPrivateKey: privateKey, ...containers, CloudVMs: cloudVMs },
    InstanceTypes: compileInstanceTypes(
      ctx,
      loopbackInstanceTypes(ctx, cloudVMs, raw.InstanceTypes, [...path, 'InstanceTypes']),
      [...path, 'InstanceTypes'],
      containers.PreemptiblePriceFactor,
    ),
    PostgreSQL: compilePostgreSQL(ctx, raw.PostgreSQL, [...path, 'PostgreSQL']),
  };
}

/**
 * Warns about SAMPLE entries the dispatcher would use as real ones, as the
 * reference does: it drops SAMPLE only from its own defaults, where such
 * entries show what a map's keys look like. One left in a site's file is
 * most likely a copy of such an example.
 */
function warnSampleEntries(ctx: ReadContext, path: Path, instanceTypes: unknown, cloudVMs: CloudVMsConfig): void {
  const cloudPath = [...path, 'Containers', 'CloudVMs'];
  const groups = cloudVMs.DriverParameters.SecurityGroupIDs;
  const uses: Array<[boolean, Path, string]> = [
    [isMap(instanceTypes) && SAMPLE in instanceTypes, [...path, 'InstanceTypes', SAMPLE], 'an instance type named SAMPLE'],
    [SAMPLE in cloudVMs.ResourceTags, [...cloudPath, 'ResourceTags', SAMPLE], 'a tag named SAMPLE on every VM'],
    [isMap(groups) && SAMPLE in groups, [...cloudPath, 'DriverParameters', 'SecurityGroupIDs', SAMPLE], 'a security group ID "SAMPLE" for every VM'],
  ];
  for (const [used, where, what] of uses) {
    if (used) ctx.problems.warn(where, `${what}, as Arvados reads it (only its own defaults' SAMPLE entries are examples): rename or remove it if it was copied from config.default.yml`);
  }
}

/** `Collections.DefaultReplication` of Arvados's defaults. */
const DEFAULT_REPLICATION = (REFERENCE_CLUSTER_DEFAULTS.Collections as { DefaultReplication: number }).DefaultReplication;

/**
 * Warns, as Arvados's loader does, when LocalKeepBlobBuffersPerVCPU is set
 * but crunch-run will start no local keepstore: a volume has AccessViaHosts,
 * or a writable volume has less Replication than
 * Collections.DefaultReplication. The first such volume is named (Arvados
 * names one too). The dispatcher still counts the keepstore's RAM when it
 * chooses instance types, so the advice is to set it to 0.
 */
function warnUnusedLocalKeepstore(ctx: ReadContext, path: Path, raw: Record<string, unknown>, buffersPerVCPU: number): void {
  if (buffersPerVCPU === 0 || !isMap(raw.Volumes)) return;
  const collections = isMap(raw.Collections) ? raw.Collections : {};
  const defaultReplication = typeof collections.DefaultReplication === 'number' ? collections.DefaultReplication : DEFAULT_REPLICATION;
  const unused = (why: string): void =>
    ctx.problems.warn(
      [...path, 'Containers', 'LocalKeepBlobBuffersPerVCPU'],
      `${buffersPerVCPU}, but no local keepstore is started on the VMs, because ${why}; the dispatcher still adds its RAM when choosing instance types: set it to 0`,
    );
  for (const [uuid, volume] of Object.entries(raw.Volumes)) {
    // SAMPLE entries, at any depth, are dropped before Arvados checks.
    if (uuid === SAMPLE || !isMap(volume)) continue;
    if (isMap(volume.AccessViaHosts) && Object.keys(volume.AccessViaHosts).some((k) => k !== SAMPLE)) {
      unused(`volume ${uuid} uses AccessViaHosts`);
      return;
    }
    const replication = typeof volume.Replication === 'number' ? volume.Replication : 0;
    if (volume.ReadOnly !== true && replication < defaultReplication) {
      unused(`volume ${uuid} is writable and has less Replication than Collections.DefaultReplication (${replication} < ${defaultReplication})`);
      return;
    }
  }
}

/** Empty tokens are the daemon's concern (daemonConfigProblems); bad characters are an error, as in Arvados. */
function checkToken(ctx: ReadContext, path: Path, token: string): void {
  if (token === '') return;
  if (!TOKEN_CHARS.test(token)) ctx.problems.error(path, 'unacceptable characters in token (only a-z, A-Z, 0-9 are acceptable)');
  else if (token.length < TOKEN_MIN_LENGTH) ctx.problems.warn(path, `token is too short (should be at least ${TOKEN_MIN_LENGTH} characters)`);
}

function checkURL(ctx: ReadContext, path: Path, text: string, schemes = ['http:', 'https:']): void {
  const problem = urlProblem(text, schemes);
  if (problem !== undefined) ctx.problems.error(path, problem);
}

/**
 * An address to listen on. One with a port and no host (`http://:9006`) is
 * taken as the reference takes it: every address of the host
 * (`http/listen.ts`).
 */
function checkListenURL(ctx: ReadContext, path: Path, text: string): void {
  checkURL(ctx, path, withHost(text, '0.0.0.0'));
}


/**
 * `DispatchPrivateKey`: the PEM text itself, or `file:///path` naming a file
 * that holds it, read now so a missing file fails at start, not at the first
 * SSH connection. Messages never quote the value: it is a secret.
 */
function readPrivateKey(ctx: ReadContext, value: unknown, path: Path): string | undefined {
  const text = readString(ctx, value, path);
  if (text === undefined || text === '') return text;
  if (!text.startsWith('file:')) {
    if (PEM_PRIVATE_KEY.test(text)) return text;
    ctx.problems.error(path, 'expected a PEM private key ("-----BEGIN ... PRIVATE KEY-----") or file:///path/to/key');
    return undefined;
  }
  // As the reference reads it: the rest after "file://" is the path as
  // written (no %-decoding, no host, '#' and '?' part of the name), and it
  // must be absolute.
  const file = text.startsWith('file://') ? text.slice('file://'.length) : '';
  if (!file.startsWith('/')) {
    ctx.problems.error(path, `expected file:///absolute/path/to/key, got ${JSON.stringify(text)}`);
    return undefined;
  }
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    ctx.problems.error(path, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
  if (!PEM_PRIVATE_KEY.test(pem)) {
    ctx.problems.error(path, `${file} does not hold a PEM private key ("-----BEGIN ... PRIVATE KEY-----")`);
    return undefined;
  }
  return pem;
}

/**
 * What the daemon needs to run that a config file may legitimately lack (so
 * check-config only warns): the messages a starting daemon fails with, empty
 * when it can start. An empty DispatchPrivateKey is fine with the lame driver,
 * for which the daemon makes a throwaway key.
 */
export function daemonConfigProblems(cluster: Cluster): string[] {
  const path = `Clusters.${cluster.ClusterID}`;
  const problems: string[] = [];
  if (cluster.SystemRootToken === '') problems.push(`${path}.SystemRootToken: required to run the dispatcher, but empty`);
  if (cluster.Services.Controller.ExternalURL === '') problems.push(`${path}.Services.Controller.ExternalURL: required to run the dispatcher, but empty`);
  if (cluster.Containers.DispatchPrivateKey === '' && cluster.Containers.CloudVMs.Driver !== 'lame') {
    problems.push(`${path}.Containers.DispatchPrivateKey: required to run the dispatcher (with any driver but lame), but empty`);
  }
  return problems;
}

/**
 * What the daemon refuses to start on that no environment can make good
 * (check-config's errors, where `daemonConfigProblems` are its warnings):
 * with no instance type, the reference cancels every container as
 * unsatisfiable ("site configuration does not list any instance types"),
 * so a misspelt `InstanceTypes` key would empty the queue.
 */
export function dispatcherConfigErrors(cluster: Cluster): string[] {
  if (Object.keys(cluster.InstanceTypes).length > 0) return [];
  return [`Clusters.${cluster.ClusterID}.InstanceTypes: none configured, so every container would be cancelled ("site configuration does not list any instance types"): the dispatcher does not start without one`];
}

/**
 * Warnings about a config that compiles: what would stop the daemon, and what
 * would make it run badly.
 */
export function clusterWarnings(cluster: Cluster): string[] {
  const path: Path = ['Clusters', cluster.ClusterID];
  const warnings = daemonConfigProblems(cluster);
  if (cluster.ManagementToken === '') {
    warnings.push(`${showPath([...path, 'ManagementToken'])}: empty, so the management API refuses every request, and /metrics is served without a token`);
  }
  if (cluster.Services.DispatchCloud.InternalURLs.length === 0) {
    warnings.push(
      `${showPath([...path, 'Services', 'DispatchCloud', 'InternalURLs'])}: empty, so the daemon has no address to listen on and will not start (unless ARVADOS_SERVICE_INTERNAL_URL names one)`,
    );
  }
  return warnings;
}

/**
 * The values of the cluster's config that no log line, report or dump may
 * carry (house rule 6): the tokens and the database password. Every logger
 * built from a cluster scrubs them, and so does the SIGQUIT report.
 */
export function clusterSecrets(cluster: Cluster): string[] {
  return [cluster.SystemRootToken, cluster.ManagementToken, cluster.PostgreSQL.Connection.password ?? ''];
}
