/**
 * `gc()` for the benchmarks that measure memory or allocation: when node was
 * started without --expose-gc, the script runs itself again with it (same
 * arguments, same terminal) and this process exits with the child's status.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** @param selfUrl the calling script's `import.meta.url` */
export function exposedGc(selfUrl: string): () => void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) return gc;
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(selfUrl), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
