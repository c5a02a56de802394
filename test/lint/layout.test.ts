/**
 * Two layout rules of DESIGN.md that imports make or break:
 * - the driver contract (`src/cloud/`) knows no driver: the wiring
 *   (`src/drivers.ts`) registers each by name, and loads it only when
 *   configured;
 * - the worker pool does not run the scheduler's code: the vocabulary both
 *   use (worker states, idle behaviours) is defined once, in
 *   `src/worker/states.ts`, and the pool takes only types from the scheduler.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { driverNames } from '../../src/cloud/registry.js';
import '../../src/drivers.js';
import { tsFiles } from './files.js';
import { importsInto, importsOf, stripComments } from './imports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const rel = (f: string): string => relative(ROOT, f);

describe('layout', () => {
  it('the driver contract imports no driver', () => {
    const found = tsFiles(join(ROOT, 'src', 'cloud')).flatMap((f) =>
      importsInto(f, join(ROOT, 'drivers')).map((r) => `${rel(f)} imports ${r.specifier}`),
    );
    assert.deepEqual(found, []);
  });

  it('every driver folder is registered by its name', () => {
    const folders = readdirSync(join(ROOT, 'drivers'))
      .filter((d) => statSync(join(ROOT, 'drivers', d)).isDirectory())
      .sort();
    assert.deepEqual(driverNames(), folders);
  });

  it('the wiring loads each driver lazily', () => {
    const records = importsInto(join(ROOT, 'src', 'drivers.ts'), join(ROOT, 'drivers'));
    assert.ok(records.length > 0, 'src/drivers.ts imports the drivers');
    assert.deepEqual(
      records.filter((r) => !r.dynamic).map((r) => r.specifier),
      [],
      'a static import would load every SDK whenever any driver is used',
    );
  });

  it('the pool does not import the scheduler', () => {
    const found = tsFiles(join(ROOT, 'src', 'worker')).flatMap((f) =>
      importsInto(f, join(ROOT, 'src', 'scheduler'))
        .filter((r) => !r.typeOnly)
        .map((r) => `${rel(f)} imports ${r.specifier} at run time`),
    );
    assert.deepEqual(found, []);
  });

  it('the worker states and idle behaviours are defined once, in src/worker/states.ts', () => {
    const definition = /\b(?:const|let|var)\s+(WORKER_STATES|IDLE_BEHAVIORS)\b|\btype\s+(WorkerState|IdleBehavior)\s*=/g;
    const found: string[] = [];
    for (const f of [...tsFiles(join(ROOT, 'src')), ...tsFiles(join(ROOT, 'drivers'))]) {
      for (const m of stripComments(readFileSync(f, 'utf8')).matchAll(definition)) found.push(`${rel(f)}: ${m[1] ?? m[2]}`);
    }
    assert.deepEqual(found.sort(), [
      'src/worker/states.ts: IDLE_BEHAVIORS',
      'src/worker/states.ts: IdleBehavior',
      'src/worker/states.ts: WORKER_STATES',
      'src/worker/states.ts: WorkerState',
    ]);
  });

  it('the import scanner sees every form the rules depend on', () => {
    const src = [
      "import type { A } from '../scheduler/a.js';",
      "import { type B, type C } from '../scheduler/b.js';",
      "import { D, type E } from '../scheduler/d.js';",
      "import F from '../scheduler/f.js';",
      "export { G } from '../scheduler/g.js';",
      "export type { H } from '../scheduler/h.js';",
      "import '../scheduler/side.js';",
      "const m = await import('../../drivers/x/index.js');",
      "// import { Z } from '../scheduler/comment.js';",
      "const s = 'http://example/'; import {",
      '  I,',
      "} from '../scheduler/multi.js';",
    ].join('\n');
    assert.deepEqual(
      importsOf(src).map((r) => `${r.specifier} ${r.typeOnly ? 'type' : 'value'}${r.dynamic ? ' dynamic' : ''}`),
      [
        '../scheduler/a.js type',
        '../scheduler/b.js type',
        '../scheduler/d.js value',
        '../scheduler/f.js value',
        '../scheduler/g.js value',
        '../scheduler/h.js type',
        '../scheduler/multi.js value',
        '../scheduler/side.js value',
        '../../drivers/x/index.js value dynamic',
      ],
    );
  });
});
