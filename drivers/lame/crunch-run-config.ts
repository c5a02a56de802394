/**
 * What the emulated crunch-run reads from its `--stdin-config` JSON: the API
 * settings it reports container progress with, and whether the real
 * crunch-run would start a local keepstore for the container.
 */
import type { CrunchRunConfig } from '../../src/arvados/crunch-run.js';

/** The `--stdin-config` JSON, parsed; throws when there is none or it is not JSON. */
export function parseConfig(configJson: string | undefined): Partial<CrunchRunConfig> {
  if (configJson === undefined) throw new Error('no --stdin-config: the lame crunch-run needs its config on stdin');
  try {
    return JSON.parse(configJson) as Partial<CrunchRunConfig>;
  } catch (err) {
    throw new Error(`config on stdin is not JSON: ${(err as Error).message}`);
  }
}

export function apiSettings(config: Partial<CrunchRunConfig>): { apiHost: string; token: string; insecure: boolean } {
  const env = config.Env ?? ({} as Partial<CrunchRunConfig['Env']>);
  if (!env.ARVADOS_API_HOST || !env.ARVADOS_API_TOKEN) throw new Error('config on stdin lacks Env.ARVADOS_API_HOST or Env.ARVADOS_API_TOKEN');
  const flag = env.ARVADOS_API_HOST_INSECURE ?? env.ARVADOS_API_INSECURE ?? '';
  return { apiHost: env.ARVADOS_API_HOST, token: env.ARVADOS_API_TOKEN, insecure: flag !== '' && flag !== '0' && flag !== 'false' };
}

type ConfigMap = Record<string, unknown>;
const asMap = (v: unknown): ConfigMap => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as ConfigMap) : {});

/**
 * Why crunch-run would not start a local keepstore for the container, or
 * undefined when it would: as the real one decides, it needs KeepBuffers > 0
 * and the cluster config (`Cluster`), and no volume reached through
 * AccessViaHosts or writable with less than DefaultReplication.
 */
export function noLocalKeepstoreReason(config: Partial<CrunchRunConfig>): string | undefined {
  if (!(Number(config.KeepBuffers) > 0)) return `KeepBuffers=${String(config.KeepBuffers)} in config`;
  if (!config.Cluster) return 'cluster config file was not loaded';
  const defaultReplication = Number(asMap(config.Cluster.Collections).DefaultReplication ?? 0);
  for (const [uuid, v] of Object.entries(asMap(config.Cluster.Volumes))) {
    const vol = asMap(v);
    if (Object.keys(asMap(vol.AccessViaHosts)).length > 0) return `a volume (${uuid}) uses AccessViaHosts`;
    if (vol.ReadOnly !== true && Number(vol.Replication ?? 0) < defaultReplication) return `a writable volume (${uuid}) has replication less than Collections.DefaultReplication`;
  }
  return undefined;
}
