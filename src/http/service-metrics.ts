/**
 * The metrics every Arvados service registers, whatever it does: when the
 * config was written and read (`arvados_config_*_timestamp_seconds`, from
 * the config loader), with the reference's names, labels and help texts, so
 * its dashboards and alerts (e.g. "config changed on disk but not reloaded")
 * work unchanged; and the running version.
 *
 * The version is not `arvados_version_running`: the cluster health check
 * (`arvados-server check`, the controller's `/_health/all`) reads that
 * metric from every service and reports the whole cluster in ERROR ("version
 * mismatch") when its version is not the checker's own Arvados release. Ours
 * never is one, so it has a name of its own, which the check does not read.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { Gauge, type Registry } from 'prom-client';
import { readConfigBytes, STDIN_PATH } from '../config/load.js';

/** What the daemon knows about the config file it loaded. */
export interface ConfigSource {
  /** Lower-case hex SHA-256 of the file's bytes (the metrics' `sha256` label). */
  sha256: string;
  /** The file's modification time, epoch ms (the load time when read from stdin). */
  sourceTimestampMs: number;
  /** When the daemon read it, epoch ms. */
  loadTimestampMs: number;
}

let cachedVersion: string | undefined;

/** This package's version (package.json), the `version` label of `arvados_dispatchcloud_build_info`. */
export function packageVersion(): string {
  if (cachedVersion === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
      cachedVersion = typeof pkg.version === 'string' ? pkg.version : 'unknown';
    } catch {
      cachedVersion = 'unknown';
    }
  }
  return cachedVersion;
}

/** The metric holding the running version, named so that the cluster health check does not compare it with an Arvados release. */
export const VERSION_METRIC = 'arvados_dispatchcloud_build_info';

/** `arvados_dispatchcloud_build_info{version="..."} 1`. */
export function registerVersion(registry: Registry): void {
  const g = new Gauge({ name: VERSION_METRIC, help: 'Version of this dispatcher (package.json) that is running.', labelNames: ['version'], registers: [registry] });
  g.set({ version: packageVersion() }, 1);
}

/** `arvados_config_source_timestamp_seconds{sha256}` and `arvados_config_load_timestamp_seconds{sha256}`. */
export function registerConfigSource(registry: Registry, source: ConfigSource): void {
  const registers = [registry];
  const labels = { sha256: source.sha256 };
  new Gauge({ name: 'arvados_config_source_timestamp_seconds', help: 'Timestamp of config file when it was loaded.', labelNames: ['sha256'], registers }).set(
    labels,
    source.sourceTimestampMs / 1000,
  );
  new Gauge({ name: 'arvados_config_load_timestamp_seconds', help: 'Time when config file was loaded.', labelNames: ['sha256'], registers }).set(
    labels,
    source.loadTimestampMs / 1000,
  );
}

/**
 * The hash and modification time of the config file at `path`, read through
 * one open file, as the reference's loader takes them; undefined when it
 * cannot be read (the loader has already said why). For "-", what the
 * loader read from the standard input.
 */
export function configSourceOf(path: string, loadTimestampMs: number): ConfigSource | undefined {
  if (path === STDIN_PATH) {
    // As the reference: the input's bytes, and its time is the load's.
    return { sha256: createHash('sha256').update(readConfigBytes(path)).digest('hex'), sourceTimestampMs: loadTimestampMs, loadTimestampMs };
  }
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const stat = fstatSync(fd, { bigint: true });
    const bytes = readFileSync(fd);
    return {
      sha256: createHash('sha256').update(bytes).digest('hex'),
      sourceTimestampMs: Number(stat.mtimeNs) / 1e6,
      loadTimestampMs,
    };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
