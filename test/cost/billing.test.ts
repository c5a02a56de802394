import assert from 'node:assert/strict';
import { billedMs, EC2_LINUX_BILLING, GCE_BILLING, paidUntil, resolveBillingRules, type BillingRule } from '../../src/cost/billing.js';
import { CostLedger, type CostVm } from '../../src/cost/ledger.js';
import type { InstanceType } from '../../src/config/types.js';

const S = 1000;
const M = 60_000;
const H = 3_600_000;
const HOURLY: BillingRule = { incrementMs: H, minimumMs: H };
const near = (actual: number | undefined, expected: number): void => assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-9, `${actual} != ${expected}`);

describe('billing rules', () => {
  it('EC2 Linux and GCE: per second, 60 s minimum (a VM that lived 20 s is billed 60 s; 61.2 s is billed 62 s)', () => {
    for (const rule of [EC2_LINUX_BILLING, GCE_BILLING]) {
      assert.equal(billedMs(rule, 20 * S), 60 * S);
      assert.equal(billedMs(rule, 60 * S), 60 * S);
      assert.equal(billedMs(rule, 61_200), 62 * S);
      assert.equal(billedMs(rule, 0), 60 * S);
    }
  });

  it('per hour: rounded up to whole hours, at least one', () => {
    assert.equal(billedMs(HOURLY, 1), H);
    assert.equal(billedMs(HOURLY, H), H);
    assert.equal(billedMs(HOURLY, H + 1), 2 * H);
    assert.equal(billedMs(HOURLY, 150 * M), 3 * H);
  });

  it('any increment and minimum: 10 min increments with a 30 min minimum; no increment bills the minimum, then exactly', () => {
    const rule = { incrementMs: 10 * M, minimumMs: 30 * M };
    assert.equal(billedMs(rule, 5 * M), 30 * M);
    assert.equal(billedMs(rule, 31 * M), 40 * M);
    const minOnly = { incrementMs: 0, minimumMs: M };
    assert.equal(billedMs(minOnly, 10 * S), M);
    assert.equal(billedMs(minOnly, 90_500), 90_500);
  });

  it('paidUntil: the end of the minimum or of the increment a VM is in; at a boundary the next has not begun', () => {
    assert.equal(paidUntil(HOURLY, 1000, 1000 + 10 * M), 1000 + H);
    assert.equal(paidUntil(HOURLY, 1000, 1000 + H), 1000 + H);
    assert.equal(paidUntil(HOURLY, 1000, 1000 + H + 1), 1000 + 2 * H);
    assert.equal(paidUntil(EC2_LINUX_BILLING, 0, 90_400), 91 * S);
  });

  it('the settings override the driver: by Arvados name, then provider type, then "*", then the driver; none: billed exactly', () => {
    const type = (Name: string, ProviderType: string): InstanceType => ({ Name, ProviderType }) as InstanceType;
    const types = [type('a', 'm5.large'), type('b', 'm5.large'), type('c', 'c5.xlarge'), type('d', 'r5.large')];
    const tenMin = { incrementMs: 10 * M, minimumMs: 0 };
    const rules = resolveBillingRules(types, { a: HOURLY, 'm5.large': tenMin }, (t) => (t.ProviderType === 'r5.large' ? undefined : EC2_LINUX_BILLING));
    assert.deepEqual(rules.get('a'), HOURLY);
    assert.deepEqual(rules.get('b'), tenMin);
    assert.deepEqual(rules.get('c'), EC2_LINUX_BILLING);
    assert.equal(rules.get('d'), undefined);
    const star = resolveBillingRules(types, { '*': HOURLY, c: EC2_LINUX_BILLING }, undefined);
    assert.deepEqual([...star.keys()], ['a', 'b', 'c', 'd']);
    assert.deepEqual(star.get('c'), EC2_LINUX_BILLING);
    assert.equal(resolveBillingRules(types, {}, undefined).size, 0);
  });
});

describe('CostLedger with billing rules', () => {
  const vm = (id: string, type: string, extra: Partial<CostVm> = {}): CostVm => ({ id, instanceType: type, preemptible: false, pricePerHour: 3.6, containers: [], ...extra });
  const rules: Record<string, BillingRule> = { ec2: EC2_LINUX_BILLING, hourly: HOURLY };
  const ledger = (): CostLedger => new CostLedger({ billingOf: (t) => rules[t] });

  it('charges a VM that lived 20 s on EC2 for 60 s, and one that lived 90.5 s for 91 s ($3.60/h is $0.001/s)', () => {
    const l = ledger();
    l.observe(0, [vm('a', 'ec2'), vm('b', 'ec2')]);
    l.observe(20 * S, [vm('b', 'ec2')]);
    l.observe(90_500, []);
    near(l.vm('a')?.dollars, 0.06);
    near(l.vm('b')?.dollars, 0.091);
    near(l.totalDollars(), 0.151);
    near(l.spend()[0]!.dollars, 0.151);
  });

  it('per hour: a VM that lived 61 min is charged two hours; while alive it has paid its current hour', () => {
    const l = ledger();
    l.observe(0, [vm('a', 'hourly')]);
    l.observe(10 * M, [vm('a', 'hourly')]);
    near(l.vm('a')?.dollars, 3.6);
    l.observe(61 * M, []);
    near(l.vm('a')?.dollars, 7.2);
    l.observe(5 * H, []);
    near(l.vm('a')?.dollars, 7.2);
  });

  it('the rounding is the VM\'s: a container pays only while it runs', () => {
    const l = ledger();
    l.observe(0, [vm('a', 'hourly')]);
    l.observe(5 * M, [vm('a', 'hourly', { containers: ['c'] })]);
    l.observe(35 * M, [vm('a', 'hourly')]);
    l.observe(40 * M, []);
    near(l.container('c')?.dollars, 1.8);
    near(l.vm('a')?.dollars, 3.6);
  });

  it('a create in flight is billed only its time: a create that failed bought no minimum', () => {
    const l = ledger();
    l.observe(0, [vm('pending-1', 'hourly', { placeholder: true })]);
    l.observe(10 * S, []);
    near(l.vm('pending-1')?.dollars, 0.01);
    // One that succeeded is billed from its create call.
    l.observe(20 * S, [vm('pending-2', 'hourly', { placeholder: true })]);
    l.observe(30 * S, [vm('i-1', 'hourly', { pendingId: 'pending-2' })]);
    l.observe(40 * S, []);
    near(l.vm('i-1')?.dollars, 3.6);
  });

  it('a type without a rule, or no rules at all, is charged exactly its life (today\'s ledger)', () => {
    for (const l of [ledger(), new CostLedger()]) {
      l.observe(0, [vm('a', 'other')]);
      l.observe(20 * S, []);
      near(l.vm('a')?.dollars, 0.02);
    }
  });
});
