/**
 * The metrics every Arvados service registers, whatever it does: the
 * running version (`arvados_version_running`, from the service command) and
 * when the config was written and read (`arvados_config_*_timestamp_seconds`,
 * from the config loader). Same names, labels and help texts as the
 * reference, so its dashboards and alerts (e.g. "config changed on disk but
 * not reloaded") work unchanged.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { Gauge, type Registry } from 'prom-client';

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

/** This package's version (package.json), the `version` label of `arvados_version_running`. */
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

/** `arvados_version_running{version="..."} 1`. */
export function registerVersion(registry: Registry): void {
  const g = new Gauge({ name: 'arvados_version_running', help: 'Indicated version is running.', labelNames: ['version'], registers: [registry] });
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
 * cannot be read (the loader has already said why).
 */
export function configSourceOf(path: string, loadTimestampMs: number): ConfigSource | undefined {
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
