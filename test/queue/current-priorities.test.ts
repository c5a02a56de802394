/**
 * Container priorities as a current controller (Arvados 2.7 and later)
 * sets them: the request's priority times 2^50, less the request's creation
 * time in ms, about 5.6e17 at priority 500. They are far above 2^53, where a
 * JavaScript number is no longer exact; the dispatcher must take them as
 * the integers they are (the reference decodes them into an int64), and
 * order by them.
 */
import assert from 'node:assert/strict';
import { REQUEST_PRIORITY_SCALE } from '../../src/arvados/priority.js';
import { ManualStack } from '../fixtures/manual-stack.js';

describe('container priorities as a current controller computes them', function () {
  this.timeout(60_000);
  let s: ManualStack | undefined;

  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  /** The container priority of a request at `request` made at `createdAt` (epoch ms). */
  const priority = (request: number, createdAt: number) => request * REQUEST_PRIORITY_SCALE - createdAt;

  it('runs them, highest first, the older request first among equals, and never calls them bad records', async () => {
    s = new ManualStack();
    await s.start();
    const t0 = Date.parse('2026-12-05T09:00:00Z');
    // Each takes a whole large VM: 10 VMs at most, so of these 11 one waits.
    const add = (p: number) => s!.controller.addContainer({ priority: p, command: ['sleep', '3600'], runtime_constraints: { vcpus: 8, ram: 1 << 20 } }).uuid;
    const urgent = add(priority(900, t0 + 5_000));
    const older = Array.from({ length: 9 }, (_, i) => add(priority(500, t0 + i * 1_000)));
    const newest = add(priority(500, t0 + 9_000));
    const state = (u: string) => s!.controller.get(u)?.state;
    await s.until('ten running', () => [urgent, ...older].every((u) => state(u) === 'Running'));
    await s.run(30_000);
    assert.equal(state(newest), 'Queued', 'the newest request of the lowest priority waits');
    // The urgent one is cancelled: its VM goes to the one that waited.
    s.controller.cancel(urgent, 'no longer wanted');
    await s.until('the newest runs', () => state(newest) === 'Running');
    assert.deepEqual(s.records('ignoring a container record from the controller: bad priority'), []);
  });
});
