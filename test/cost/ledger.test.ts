import assert from 'node:assert/strict';
import { CostLedger, type CostVm } from '../../src/cost/ledger.js';

const H = 3_600_000;
const vm = (id: string, price: number, containers: string[] = [], extra: Partial<CostVm> = {}): CostVm => ({
  id,
  instanceType: 'small',
  preemptible: false,
  pricePerHour: price,
  containers,
  ...extra,
});
const near = (actual: number | undefined, expected: number): void => assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-9, `${actual} != ${expected}`);

describe('CostLedger', () => {
  it('charges a VM from its first observation until it is gone, at the price it had over each interval', () => {
    const l = new CostLedger();
    l.observe(0, [vm('a', 1)]);
    l.observe(H, [vm('a', 3)]); // 1 h at $1
    l.observe(1.5 * H, []); // 0.5 h at $3
    near(l.vm('a')?.dollars, 2.5);
    assert.equal(l.vm('a')?.goneAt, 1.5 * H);
    l.observe(5 * H, []);
    near(l.vm('a')?.dollars, 2.5);
    assert.equal(l.costPerHour(), 0);
  });

  it('an observation stamped earlier than the last one (a late pool event) charges nothing and does not move the clock back: no time is charged twice', () => {
    const l = new CostLedger();
    l.observe(0, [vm('a', 1)]);
    l.observe(H, [vm('a', 1)]);
    l.observe(0.5 * H, [vm('a', 1)]);
    l.observe(2 * H, [vm('a', 1)]);
    near(l.vm('a')?.dollars, 2);
    near(l.totalDollars(), 2);
  });

  it('leaves idle time to the VM: a container pays only while it runs there', () => {
    const l = new CostLedger();
    l.observe(0, [vm('a', 2)]); // booting/idle 1 h
    l.observe(H, [vm('a', 2, ['c1'])]); // running 2 h
    l.observe(3 * H, [vm('a', 2)]); // idle again 1 h
    l.observe(4 * H, []);
    near(l.vm('a')?.dollars, 8);
    near(l.container('c1')?.dollars, 4);
    assert.equal(l.container('c1')?.running, false);
    assert.equal(l.container('c1')?.instance, 'a');
  });

  it('splits a packed VM by the VCPUs each container asked for, equally when none is known', () => {
    const vcpus: Record<string, number> = { big: 3, little: 1 };
    const l = new CostLedger({ weightOf: (uuid) => vcpus[uuid] });
    l.observe(0, [vm('a', 4, ['big', 'little']), vm('b', 2, ['x', 'y'])]);
    l.observe(H, [vm('a', 4, ['big']), vm('b', 2, ['x', 'y'])]);
    l.observe(2 * H, []);
    near(l.container('big')?.dollars, 3 + 4);
    near(l.container('little')?.dollars, 1);
    near(l.container('x')?.dollars, 2);
    near(l.container('y')?.dollars, 2);
    near(l.vm('a')!.dollars, l.container('big')!.dollars + l.container('little')!.dollars);
  });

  it('carries a create call\'s time over from the placeholder id to the instance', () => {
    const l = new CostLedger();
    l.observe(0, [vm('pending-1', 1)]);
    l.observe(H / 2, [vm('i-123', 1, [], { pendingId: 'pending-1' })]);
    l.observe(H, [vm('i-123', 1, [], { pendingId: 'pending-1' })]);
    near(l.vm('i-123')?.dollars, 1);
    assert.equal(l.vm('i-123')?.since, 0);
    assert.equal(l.vm('pending-1'), undefined);
    near(l.totalDollars(), 1);
  });

  it('sums spend by instance type and preemptible, and the cost per hour of what is alive', () => {
    const l = new CostLedger();
    l.observe(0, [vm('a', 1), vm('b', 0.25, [], { preemptible: true }), vm('c', 0.5, [], { instanceType: 'large' })]);
    assert.equal(l.costPerHour(), 1.75);
    l.observe(2 * H, []);
    assert.deepEqual(l.spend(), [
      { instanceType: 'large', preemptible: false, dollars: 1 },
      { instanceType: 'small', preemptible: false, dollars: 2 },
      { instanceType: 'small', preemptible: true, dollars: 0.5 },
    ]);
    near(l.totalDollars(), 3.5);
  });

  it('keeps only the newest gone VMs and finished containers, up to its bound', () => {
    const l = new CostLedger({ maxFinished: 2 });
    for (let i = 0; i < 4; i++) {
      l.observe(i * H, [vm(`v${i}`, 1, [`c${i}`])]);
    }
    l.observe(4 * H, []);
    assert.deepEqual(['v0', 'v1', 'v2', 'v3'].map((id) => l.vm(id) !== undefined), [false, false, true, true]);
    assert.deepEqual(['c0', 'c1', 'c2', 'c3'].map((id) => l.container(id) !== undefined), [false, false, true, true]);
    // Spend totals forget nothing.
    near(l.totalDollars(), 4);
  });

  it('follows a container that moves to another VM (a retry on the same uuid), adding both shares', () => {
    const l = new CostLedger();
    l.observe(0, [vm('a', 1, ['c'])]);
    l.observe(H, [vm('b', 2, ['c'])]);
    l.observe(2 * H, []);
    near(l.container('c')?.dollars, 3);
    assert.equal(l.container('c')?.instance, 'b');
  });

  it('does not charge backwards when observed twice at one time', () => {
    const l = new CostLedger();
    l.observe(H, [vm('a', 1)]);
    l.observe(H, [vm('a', 1, ['c'])]);
    l.observe(2 * H, []);
    near(l.vm('a')?.dollars, 1);
    near(l.container('c')?.dollars, 1);
  });
});
