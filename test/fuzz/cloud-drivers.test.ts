/**
 * Fuzzed cloud answers: the ec2 and gce drivers, with the real SDKs, talk to
 * the fake EC2 and Compute endpoints through a proxy (`garbage-proxy.ts`)
 * that answers one kind of API call (RunInstances, DescribeInstances,
 * TerminateInstances, CreateTags, DeleteTags, DescribeKeyPairs,
 * ImportKeyPair, DescribeSpotPriceHistory; insert, get, delete,
 * setMetadata, setLabels, aggregatedList, operations) with garbage: any
 * HTTP status, empty, malformed, truncated or HTML bodies, well-formed
 * errors with known and unknown codes, answers of the wrong shape, late
 * answers and no answer at all.
 *
 * Properties, for each driver call (create, list, destroy, setTags):
 * - it returns a promise (never throws synchronously) that settles within
 *   its attempts' request timeouts; nothing is left as an unhandled rejection;
 * - a rejection is an Error with a message, classified by `src/cloud/errors.ts`:
 *   a 429 or a throttling code is a RateLimitError, an account-limit code a
 *   QuotaError, anything else a plain error the pool backs off from;
 * - an answer with an error status is never taken for success, a create
 *   never reports an instance that does not exist, and a list either fails
 *   or reports exactly the instances that exist (no phantom, none dropped
 *   because of a garbage page);
 * - once the endpoint heals, the next list is right.
 *
 * The drivers behind their proxies, and the garbage, are in
 * `driver-targets.ts`; the worker pool over the same garbage is
 * `cloud-drivers-pool.test.ts`.
 *
 * `npm test` runs a few cases per driver; the full count:
 *   FUZZ_RUNS=10000 npx mocha --timeout 0 test/fuzz/cloud-drivers.test.ts   (or `npm run fuzz`)
 * (each driver runs a tenth of that, about 1,000 cases in some 4 min), and
 * FUZZ_SEED=<seed> repeats a failing run.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { asCapacityError, isQuotaError, isRateLimitError } from '../../src/cloud/errors.js';
import type { Instance } from '../../src/cloud/types.js';
import type { Answer } from './garbage-proxy.js';
import { answerArb, type Call, CALL_DEADLINE_MS, ec2Target, gceTarget, healed, listHealed, ourTags, QUICK_RUNS, SHARE, type Target } from './driver-targets.js';
import { fuzzParams, fuzzTimeout } from './runs.js';

/** The classification an answer demands of a rejection, when its body says so unambiguously. */
function demanded(t: Target, a: Answer): 'rate' | 'quota' | 'capacity' | undefined {
  if (a.kind !== 'garbage' || a.truncate) return undefined;
  if (a.status === 429) return 'rate';
  if (a.status < 400) return undefined;
  for (const [code, cls] of t.codes) {
    if (t.name === 'ec2' && a.body.includes(`<Code>${code}</Code>`) && a.body.includes('</Response>')) return cls;
    if (t.name === 'gce' && a.body.includes(`"reason":"${code}"`) && a.body.endsWith('}')) return cls;
  }
  return undefined;
}

/** Settles `p` or fails once `ms` have passed. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return { ok: true, value: await Promise.race([p, deadline]) };
  } catch (error) {
    if (error instanceof Error && error.message.endsWith(`did not settle within ${ms} ms`)) throw error;
    return { ok: false, error };
  } finally {
    clearTimeout(timer);
  }
}

interface Case {
  call: Call;
  kindIndex: number;
  answer: Answer;
}

function caseArb(t: Target): fc.Arbitrary<Case> {
  return fc.record({ call: fc.constantFrom<Call>('create', 'list', 'destroy', 'setTags'), kindIndex: fc.nat(), answer: answerArb(t.bodies) });
}

/**
 * Runs one case against `t`; throws (an assertion) when a property does not
 * hold. Instances in `standing` stay; the others a case made are destroyed.
 */
async function runCase(t: Target, c: Case, standing: Set<string>, rejections: unknown[]): Promise<void> {
  const kinds = t.kinds[c.call];
  const kind = kinds[c.kindIndex % kinds.length];
  const what = `${t.name} ${c.call} with ${kind} answered ${JSON.stringify(c.answer).slice(0, 300)}`;
  let victim: Instance | undefined;
  t.forget?.();
  if (c.call === 'destroy' || c.call === 'setTags') victim = await healed(() => t.create());
  const before = t.truth();

  t.proxy.arm(kind, c.answer);
  let started: Promise<unknown>;
  try {
    switch (c.call) {
      case 'create':
        started = t.create();
        break;
      case 'list':
        started = t.driver.instances(ourTags(t));
        break;
      case 'destroy':
        started = victim!.destroy();
        break;
      case 'setTags':
        started = victim!.setTags({ ...victim!.tags, ArvadosIdleBehavior: 'hold', Fuzz: 'x' });
        break;
    }
  } catch (err) {
    t.proxy.heal();
    assert.fail(`${what}: threw synchronously: ${String(err)}`);
  }
  const outcome = await within(started, CALL_DEADLINE_MS, what);
  t.proxy.heal();
  const garbled = (t.proxy.garbled.get(kind) ?? 0) > 0;
  t.proxy.garbled.clear();
  const truth = t.truth();

  if (!outcome.ok) {
    const err = outcome.error;
    assert.ok(err instanceof Error, `${what}: rejected with a non-Error ${String(err)}`);
    assert.ok(err.message.length > 0, `${what}: rejected with an empty message`);
    // A gce create reports its read-back's failure only as "no such instance" (404): the instance exists otherwise.
    const cls = t.name === 'gce' && c.call === 'create' && kind === 'get' ? undefined : demanded(t, c.answer);
    if (cls && garbled) {
      const got = isRateLimitError(err) ? 'rate' : isQuotaError(err) ? 'quota' : asCapacityError(err) ? 'capacity' : 'other';
      // A create may end on another failure after a rate limit or a capacity error (a retry, the next subnet or zone);
      // a capacity code means something only in the answer to the create call itself, not to a key pair lookup or a wait.
      const ok = got === cls || (c.call === 'create' && got !== 'other') || (cls === 'capacity' && kind !== t.kinds.create[0]);
      assert.ok(ok, `${what}: rejected as ${got}, expected ${cls}: ${err.message}`);
    }
  } else {
    const value = outcome.value;
    const errorStatus = c.answer.kind === 'garbage' && c.answer.status >= 400 && garbled;
    switch (c.call) {
      case 'create': {
        const inst = value as Instance;
        assert.ok(truth.has(inst.id), `${what}: create reported ${inst.id}, which does not exist`);
        break;
      }
      case 'list': {
        const ids = new Set((value as Instance[]).map((i) => i.id));
        assert.deepEqual([...ids].sort(), [...before].sort(), `${what}: the list differs from what exists`);
        break;
      }
      case 'destroy': {
        // "Already gone" and (gce) "a delete is under way" are success; the driver cannot tell garbage ones.
        const gone = c.answer.kind === 'garbage' && (c.answer.status === 404 || /InvalidInstanceID\.NotFound|resourceNotReady/.test(c.answer.body));
        if (errorStatus && !gone) assert.fail(`${what}: an error status was taken for success`);
        break;
      }
      case 'setTags':
        if (errorStatus && kind !== 'get') assert.fail(`${what}: an error status was taken for success`);
        break;
    }
  }

  // Healed: the next list is right.
  const listed = await listHealed(t);
  // (The caller de-duplicates: a listing may name an instance twice, e.g. when pages shift under it.)
  assert.deepEqual([...new Set(listed.map((i) => i.id))].sort(), [...t.truth()].sort(), `${what}: the list after healing differs from what exists`);
  assert.deepEqual(rejections, [], `${what}: unhandled rejections`);
  // Keep the cloud small: destroy what this case created.
  for (const inst of listed) if (!standing.has(inst.id)) await inst.destroy();
}

for (const [name, makeTarget] of [['ec2', ec2Target], ['gce', gceTarget]] as const) {
  describe(`fuzzed ${name} answers`, function () {
    this.timeout(fuzzTimeout(QUICK_RUNS[name], 120_000, SHARE[name]));
    let t: Target;
    const rejections: unknown[] = [];
    /** Instances that stay through every case, so that a listing has something to lose. */
    const standing = new Set<string>();
    const onRejection = (reason: unknown): void => void rejections.push(reason);

    before(async function () {
      // The Compute client library takes seconds to load on a busy machine.
      this.timeout(120_000);
      t = await makeTarget();
      for (let i = 0; i < 3; i++) standing.add((await t.create()).id);
      process.on('unhandledRejection', onRejection);
    });
    after(async () => {
      process.off('unhandledRejection', onRejection);
      await t?.stop();
    });

    it('every driver call settles in time with a classified error or a true answer', async () => {
      await fc.assert(
        fc.asyncProperty(caseArb(t), (c) => runCase(t, c, standing, rejections)),
        fuzzParams(QUICK_RUNS[name], SHARE[name]),
      );
    });
  });
}
