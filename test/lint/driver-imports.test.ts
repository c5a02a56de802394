/**
 * A driver speaks to the rest of the daemon through the driver contract
 * (src/cloud/) and the interfaces both ends share (src/arvados/, src/ssh/,
 * src/config/), never through the worker pool's or the scheduler's
 * internals: no file under drivers/ imports from src/worker/ or
 * src/scheduler/.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsFiles } from './files.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FORBIDDEN = ['src/worker', 'src/scheduler'];

/** Module specifiers of `import ... from 'x'`, `export ... from 'x'` and `import('x')`. */
export function importSpecifiers(src: string): string[] {
  const re = /\b(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g;
  return [...src.matchAll(re)].map((m) => m[1]);
}

/** Every import under drivers/ of a forbidden directory, as `path: specifier`. */
function forbiddenImports(root: string): string[] {
  const found: string[] = [];
  for (const file of tsFiles(join(root, 'drivers'))) {
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = relative(root, resolve(dirname(file), spec));
      if (FORBIDDEN.some((dir) => target === dir || target.startsWith(`${dir}/`))) found.push(`${relative(root, file)}: ${spec}`);
    }
  }
  return found;
}

describe('drivers import no worker or scheduler internals', () => {
  it('finds none under drivers/', () => {
    assert.deepEqual(forbiddenImports(ROOT), []);
  });

  it('would catch static, re-export and dynamic imports', () => {
    const src = [
      "import { x } from '../../src/worker/runner.js';",
      "export { y } from '../../src/scheduler/sync.js';",
      "const z = await import('../../src/worker/pool.js');",
      "import type { T } from '../../src/cloud/types.js';",
    ].join('\n');
    assert.deepEqual(importSpecifiers(src), [
      '../../src/worker/runner.js',
      '../../src/scheduler/sync.js',
      '../../src/worker/pool.js',
      '../../src/cloud/types.js',
    ]);
  });
});
