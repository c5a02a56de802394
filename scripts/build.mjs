#!/usr/bin/env node
/**
 * `npm run build`: compiles the daemon to JavaScript in `dist/`, which is
 * what `bin/arvados-dispatch-cloud.mjs` runs with plain node.
 *
 * tsc (tsconfig.build.json) writes `dist/src` and `dist/drivers`, keeping the
 * sources' layout so their relative imports still meet. The code finds a few
 * files relative to itself, as in the checkout: the status page's static
 * files beside `src/http/status-page.ts`, and `package.json` (the version
 * label of `arvados_version_running`) and `config.example.yml` (the demo's
 * config) two directories above `src/<dir>/`, which in the build is `dist/`.
 * Those are copied, and `dist/package.json` gets only the fields node and the
 * code read, so `dist/` runs wherever it is put beside a `node_modules`.
 *
 * The old `dist/` is removed first: a file whose source was deleted must not
 * linger and be imported by something stale.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Files the compiled code reads at run time, from the checkout to the same place under dist/. */
export const ASSETS = [
  ['src/http/status', 'src/http/status'],
  ['config.example.yml', 'config.example.yml'],
];

/**
 * Builds into `out` (default `dist/`; the Debian package builds into its
 * staging tree instead, leaving the checkout's dist/ alone). Throws when tsc
 * fails.
 */
export function build(out = join(ROOT, 'dist')) {
  rmSync(out, { recursive: true, force: true });
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`tsc exited with ${r.status ?? r.signal}`);
  for (const [from, to] of ASSETS) cpSync(join(ROOT, from), join(out, to), { recursive: true });
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'package.json'), `${JSON.stringify({ name: pkg.name, version: pkg.version, type: 'module', private: true }, null, 2)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    build();
  } catch (err) {
    process.stderr.write(`build: ${err.message}\n`);
    process.exit(1);
  }
}
