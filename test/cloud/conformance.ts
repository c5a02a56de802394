/**
 * The driver conformance suite: what every cloud driver must do, checked the
 * same way for each (DESIGN.md "Drivers"). A driver's test file calls
 * `describeDriverConformance(name, setup)` with a setup that builds the raw
 * (unwrapped) InstanceSet against its cloud: the lame cloud itself, or a
 * local fake of the provider's HTTP API for EC2 and GCE.
 *
 * Tests tag what they create with a fresh random tag value, so they never
 * see each other's instances, and destroy what they created.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { asCapacityError, asRateLimitError, isCapacityError, isQuotaError, isRateLimitError } from '../../src/cloud/errors.js';
import type { Instance, InstanceSet, InstanceTags } from '../../src/cloud/types.js';
import type { InstanceType } from '../../src/config/types.js';
import { initCommandForSecret } from '../../src/arvados/crunch-run.js';

/**
 * Injects the provider-side failures the suite checks the driver classifies.
 * Each applies to the next create only. A driver whose cloud never fails that
 * way leaves the hook out, and the case is skipped (mocha lists it as pending).
 */
export interface ConformanceFaults {
  /** The provider throttles the next create (EC2 RequestLimitExceeded, GCE 429, ...). */
  nextCreateRateLimited?(): void;
  /** The account is out of instance quota for the next create. */
  nextCreateQuota(): void | Promise<void>;
  /** The provider has no capacity for `providerType` on the next create. */
  nextCreateCapacity?(providerType: string): void;
}

export interface ConformanceSetup {
  /** The driver under test, not wrapped (the wrappers would hide what the driver does). */
  instanceSet: InstanceSet;
  /** One or two types to create; with two, the suite creates both. */
  instanceTypes: InstanceType[];
  imageId: string;
  /** An OpenSSH public key line to install on the instances. */
  publicKey: string;
  faults: ConformanceFaults;
  /** Tag key that plays the InstanceSetID role. Default `ArvadosInstanceSetID`. */
  instanceSetTag?: string;
  /** How long to poll for a destroyed instance to leave the list. Default 10 000 ms. */
  destroyTimeoutMs?: number;
  /** How many instances the cloud can hold at once; cases that need more are skipped. Default unlimited. */
  maxInstances?: number;
  /** Releases what setup made (fake endpoints, leftover instances). */
  cleanup(): Promise<void>;
}

/** Polls `check` every `intervalMs` until it returns true or `timeoutMs` passes; fails with `what`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000, intervalMs = 20): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (performance.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/**
 * Defines a mocha `describe` block named `driver conformance: <name>` that
 * runs every check against the driver `setup` builds (once per test).
 */
export function describeDriverConformance(name: string, setup: () => Promise<ConformanceSetup>): void {
  describe(`driver conformance: ${name}`, function () {
    this.timeout(30_000);
    let s: ConformanceSetup;
    let runTag: string;
    let created: Instance[];
    let tagKey: string;

    beforeEach(async () => {
      s = await setup();
      assert.ok(s.instanceTypes.length > 0, 'setup must give at least one instance type');
      runTag = `conformance-${randomHex(6)}`;
      tagKey = s.instanceSetTag ?? 'ArvadosInstanceSetID';
      created = [];
    });

    afterEach(async () => {
      for (const inst of created) {
        await inst.destroy().catch(() => undefined);
      }
      await s.cleanup();
    });

    const tagsFor = (extra: InstanceTags = {}): InstanceTags => ({
      [tagKey]: runTag,
      ArvadosInstanceType: s.instanceTypes[0].Name,
      ArvadosIdleBehavior: 'run',
      ArvadosInstanceSecret: randomHex(20),
      ...extra,
    });

    const create = async (tags: InstanceTags, type: InstanceType = s.instanceTypes[0]): Promise<Instance> => {
      const inst = await s.instanceSet.create(type, s.imageId, tags, initCommandForSecret(tags.ArvadosInstanceSecret ?? randomHex(20)), s.publicKey);
      created.push(inst);
      return inst;
    };

    /** Skips the running case when the driver cannot hold `count` instances at once. */
    const needInstances = (ctx: Mocha.Context, count: number): void => {
      if (count > (s.maxInstances ?? Infinity)) ctx.skip();
    };

    const listIds = async (filter: InstanceTags): Promise<string[]> => {
      const list = await s.instanceSet.instances(filter);
      return [...new Set(list.filter((i) => Object.entries(filter).every(([k, v]) => i.tags[k] === v)).map((i) => i.id))].sort();
    };

    it('create returns an instance with an id, the provider type and the tags', async function () {
      needInstances(this, s.instanceTypes.length);
      for (const type of s.instanceTypes) {
        const tags = tagsFor({ ArvadosInstanceType: type.Name });
        const inst = await create(tags, type);
        assert.ok(inst.id, 'instance id');
        assert.equal(inst.providerType, type.ProviderType);
        for (const [k, v] of Object.entries(tags)) assert.equal(inst.tags[k], v, `tag ${k}`);
        assert.equal(typeof inst.remoteUser, 'string');
        assert.ok(inst.remoteUser.length > 0, 'remote user');
      }
    });

    it('lists by tag: instances with other tag values are not returned', async function () {
      needInstances(this, 2);
      const mine = await create(tagsFor());
      const otherTag = `${runTag}-other`;
      const other = await create({ ...tagsFor(), [tagKey]: otherTag });
      await waitFor('both instances to be listed', async () => {
        const ids = await listIds({ [tagKey]: runTag });
        return ids.includes(mine.id);
      });
      const ids = await listIds({ [tagKey]: runTag });
      assert.deepEqual(ids, [mine.id]);
      const raw = await s.instanceSet.instances({ [tagKey]: runTag });
      for (const inst of raw) {
        if (inst.id === other.id) assert.notEqual(inst.tags[tagKey], runTag, 'a listed instance must show its own tags');
      }
      assert.deepEqual(await listIds({ [tagKey]: otherTag }), [other.id]);
    });

    it('lists each instance under a stable id, so the caller can de-duplicate', async function () {
      needInstances(this, 2);
      const a = await create(tagsFor());
      const b = await create(tagsFor());
      await waitFor('instances to be listed', async () => (await listIds({ [tagKey]: runTag })).length === 2);
      const first = await s.instanceSet.instances({ [tagKey]: runTag });
      const second = await s.instanceSet.instances({ [tagKey]: runTag });
      const ids = (list: Instance[]) => [...new Set(list.map((i) => i.id))].sort();
      assert.deepEqual(ids(first), [a.id, b.id].sort());
      assert.deepEqual(ids(second), ids(first));
      for (const inst of first) {
        assert.equal(inst.providerType, s.instanceTypes[0].ProviderType);
      }
    });

    it('setTags replaces the whole tag set, and a new list shows it', async () => {
      const inst = await create(tagsFor({ Extra: 'to-be-removed' }));
      const next: InstanceTags = { [tagKey]: runTag, ArvadosInstanceType: s.instanceTypes[0].Name, ArvadosIdleBehavior: 'drain' };
      await inst.setTags(next);
      await waitFor('the new tags to be listed', async () => {
        const found = (await s.instanceSet.instances({ [tagKey]: runTag })).find((i) => i.id === inst.id);
        return found?.tags.ArvadosIdleBehavior === 'drain';
      });
      const found = (await s.instanceSet.instances({ [tagKey]: runTag })).find((i) => i.id === inst.id);
      assert.ok(found);
      assert.equal(found.tags.Extra, undefined, 'setTags must not merge');
      for (const [k, v] of Object.entries(next)) assert.equal(found.tags[k], v);
    });

    it('destroy makes the instance leave the list', async function () {
      needInstances(this, 2);
      const keep = await create(tagsFor());
      const gone = await create(tagsFor());
      await gone.destroy();
      await waitFor(
        'the destroyed instance to leave the list',
        async () => !(await listIds({ [tagKey]: runTag })).includes(gone.id),
        s.destroyTimeoutMs ?? 10_000,
      );
      assert.deepEqual(await listIds({ [tagKey]: runTag }), [keep.id]);
      // Destroying it again is not an error.
      await gone.destroy();
    });

    it('classifies a throttled create as RateLimitError with a retry time in the future', async function () {
      if (!s.faults.nextCreateRateLimited) this.skip();
      s.faults.nextCreateRateLimited();
      const before = Date.now();
      const err = await create(tagsFor()).then(
        () => assert.fail('create should have failed'),
        (e: unknown) => e,
      );
      assert.ok(isRateLimitError(err), `expected a RateLimitError, got ${String(err)}`);
      assert.ok(!isQuotaError(err) && !isCapacityError(err));
      assert.ok(asRateLimitError(err)!.earliestRetry > before, 'earliestRetry must be in the future');
    });

    it('classifies a quota failure as QuotaError', async () => {
      await s.faults.nextCreateQuota();
      const err = await create(tagsFor()).then(
        () => assert.fail('create should have failed'),
        (e: unknown) => e,
      );
      assert.ok(isQuotaError(err), `expected a QuotaError, got ${String(err)}`);
      assert.ok(!isRateLimitError(err) && !isCapacityError(err));
    });

    it('classifies an out-of-capacity failure as CapacityError for that type', async function () {
      if (!s.faults.nextCreateCapacity) this.skip();
      const type = s.instanceTypes[s.instanceTypes.length - 1];
      s.faults.nextCreateCapacity(type.ProviderType);
      const err = await create(tagsFor({ ArvadosInstanceType: type.Name }), type).then(
        () => assert.fail('create should have failed'),
        (e: unknown) => e,
      );
      assert.ok(isCapacityError(err), `expected a CapacityError, got ${String(err)}`);
      assert.ok(!isRateLimitError(err) && !isQuotaError(err));
      const cap = asCapacityError(err)!;
      assert.ok(
        cap.instanceType === type.ProviderType || cap.quotaGroup !== undefined,
        `CapacityError should name ${type.ProviderType} (or its quota group), got ${JSON.stringify({ instanceType: cap.instanceType, quotaGroup: cap.quotaGroup })}`,
      );
    });

    it('a failed create leaves the driver usable', async () => {
      await s.faults.nextCreateQuota();
      await assert.rejects(create(tagsFor()));
      const inst = await create(tagsFor());
      assert.ok(inst.id);
    });

    it('handles concurrent creates, giving each its own id', async function () {
      needInstances(this, 5);
      const all = await Promise.all(Array.from({ length: 5 }, () => create(tagsFor())));
      const ids = all.map((i) => i.id);
      assert.equal(new Set(ids).size, 5, `ids must be distinct: ${ids.join(', ')}`);
      await waitFor('all five to be listed', async () => (await listIds({ [tagKey]: runTag })).length === 5);
      assert.deepEqual(await listIds({ [tagKey]: runTag }), [...ids].sort());
    });
  });
}
