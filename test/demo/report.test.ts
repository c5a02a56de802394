/** The demo's end-of-run summary (src/demo/report.ts). */
import assert from 'node:assert/strict';
import type { InstanceView } from '../../src/scheduler/interfaces.js';
import { summary, VMTracker } from '../../src/demo/report.js';

describe('demo summary', () => {
  it('gives the simulated cost in dollars, as simulate does: price per hour x time each VM was up', () => {
    const vms = new VMTracker();
    const vm: InstanceView = {
      instance: 'lame-1',
      address: '127.0.0.1:2201',
      price: 0.24,
      arvadosInstanceType: 'small',
      providerInstanceType: 'small',
      lastContainerUUID: '',
      lastBusy: 0,
      runningContainerUUIDs: [],
      workerState: 'idle',
      idleBehavior: 'run',
    };
    vms.observe(0, [vm]);
    vms.observe(96_000, [vm]);
    const text = summary({ elapsedMs: 96_000, containers: [], waits: [], vms, vmsLeft: 0, notes: new Map() });
    assert.match(text, /^VMs created: 1 \(1 small\); left running: 0$/m);
    assert.match(text, /^Simulated cost: \$0\.0064 \(price per hour x time each VM was up\)$/m);
  });
});
