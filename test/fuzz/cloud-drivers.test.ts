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
 * `npm test` runs a few cases per driver; the full count:
 *   FUZZ_RUNS=10000 npx mocha --timeout 0 test/fuzz/cloud-drivers.test.ts   (or `npm run fuzz`)
 * (each driver runs a tenth of that, about 1,000 cases in some 4 min, and
 * the pool check a fiftieth: each of its cases is a pool's whole create,
 * fail, heal cycle), and FUZZ_SEED=<seed> repeats a failing run.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { asCapacityError, isQuotaError, isRateLimitError } from '../../src/cloud/errors.js';
import type { Instance, InstanceSet, InstanceTags } from '../../src/cloud/types.js';
import { ManualClock, settle, systemClock } from '../../src/clock/index.js';
import { wrapInstanceSet } from '../../src/cloud/wrap.js';
import { silentLogger } from '../../src/log.js';
import { SshConnectError } from '../../src/ssh/errors.js';
import { WorkerPoolImpl } from '../../src/worker/pool.js';
import { generateSshKeyPair } from '../../src/ssh/keys.js';
import { QUOTA_CODES, THROTTLE_CODES, TYPE_CAPACITY_CODES } from '../../drivers/ec2/errors.js';
import { QUOTA_REASONS, RATE_LIMIT_REASONS, ZONE_CAPACITY_CODES } from '../../drivers/gce/errors.js';
import { FakeEC2 } from '../fixtures/ec2/server.js';
import { FakeGCE } from '../fixtures/gce/server.js';
import { waitFor } from '../cloud/conformance.js';
import { createArgs as ec2CreateArgs, DISPATCH_KEY, ec2Cluster, fakeParams as ec2FakeParams, makeDriver as makeEc2Driver, M5, SPOT } from '../drivers/ec2/helpers.js';
import { createArgs as gceCreateArgs, fakeParams as gceFakeParams, IMAGE as GCE_IMAGE, makeDriver as makeGceDriver, N2 } from '../drivers/gce/helpers.js';
import { type Answer, GarbageProxy } from './garbage-proxy.js';
import { fuzzParams, fuzzTimeout } from './runs.js';

/** Cases per driver in `npm test` (each gce case is slower: more calls per create, a client library that does more). */
const QUICK_RUNS = { ec2: 15, gce: 8, pool: 3 };

/** Under FUZZ_RUNS, a driver runs a tenth of it and the pool check a fiftieth (see `fuzzRuns`). */
const SHARE = { ec2: 10, gce: 10, pool: 50 };

/** Each HTTP request's limit in these tests; a call makes at most a few attempts. */
const REQUEST_TIMEOUT_MS = 600;

/** Longest a call may take: every attempt timing out, with the retry waits. */
const CALL_DEADLINE_MS = 10_000;

type Call = 'create' | 'list' | 'destroy' | 'setTags';

/** One driver under test, behind its proxy. */
interface Target {
  name: string;
  proxy: GarbageProxy;
  driver: InstanceSet;
  setId: string;
  /** The API calls each driver call makes. */
  kinds: Record<Call, string[]>;
  /** Garbage bodies in this provider's dialect. */
  bodies: fc.Arbitrary<string>;
  /** Error codes that must be classified: [code, 'rate' | 'quota' | 'capacity']. */
  codes: Array<[string, 'rate' | 'quota' | 'capacity']>;
  create(): Promise<Instance>;
  /** Ids of our live instances, as the fake holds them. */
  truth(): Set<string>;
  stop(): Promise<void>;
}

const HTML_PAGE = '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1><hr>nginx</body></html>';

/** Bodies every provider may get from a proxy or a broken gateway. */
const commonBodies = fc.oneof(
  fc.constantFrom('', ' ', '\n', HTML_PAGE, '<html>', 'null', '[]', '{}', '0', 'true', '"x"', '\u0000\u0001', '\ufeff', 'x'.repeat(200_000)),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.json({ maxDepth: 3 }),
);

function ec2Bodies(codes: string[]): fc.Arbitrary<string> {
  const code = fc.oneof(fc.constantFrom(...codes, 'InvalidParameterValue', 'UnauthorizedOperation', 'InternalError', 'Unavailable', 'SomethingNew', ''), fc.string({ maxLength: 12 }));
  const text = fc.string({ maxLength: 30 }).map((s) => s.replace(/[<&]/g, ''));
  return fc.oneof(
    commonBodies,
    fc.tuple(code, text).map(([c, m]) => `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${c}</Code><Message>${m}</Message></Error></Errors><RequestID>r</RequestID></Response>`),
    fc.tuple(code, text).map(([c, m]) => `<Response><Errors><Error><Code>${c}</Code><Message>${m}`),
    fc.constantFrom(
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<?xml version="1.0"?><Foo><bar/></Foo>',
      '<DescribeInstancesResponse><reservationSet><item>',
      '<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><reservationSet><item><instancesSet><item><instanceState><name>running</name></instanceState></item></instancesSet></item></reservationSet></DescribeInstancesResponse>',
      '<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><reservationSet>oops</reservationSet><nextToken>again</nextToken></DescribeInstancesResponse>',
      '<RunInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><instancesSet/></RunInstancesResponse>',
      '<RunInstancesResponse><instancesSet><item><instanceId></instanceId></item></instancesSet></RunInstancesResponse>',
      '<TerminateInstancesResponse><instancesSet><item>',
      '<![CDATA[', '<a><b></a></b>', '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;&a;</x>',
    ),
  );
}

function gceBodies(reasons: string[]): fc.Arbitrary<string> {
  const reason = fc.oneof(fc.constantFrom(...reasons, 'resourceNotReady', 'conditionNotMet', 'notFound', 'invalid', 'backendError', 'somethingNew', ''), fc.string({ maxLength: 12 }));
  const status = fc.constantFrom(200, 400, 403, 404, 409, 412, 429, 500, 503, 'x');
  return fc.oneof(
    commonBodies,
    fc.tuple(status, reason, fc.string({ maxLength: 30 })).map(([code, r, message]) => JSON.stringify({ error: { code, message, errors: [{ reason: r, message, domain: 'global' }] } })),
    fc.tuple(reason).map(([r]) => `{"error": {"errors": [{"reason": "${r}"`),
    fc.constantFrom(
      '{"error": {',
      '{"error": "nope"}',
      '{"items": "x"}',
      '{"items": {}}',
      '{"kind": "compute#instanceAggregatedList", "items": {"zones/us-central1-a": {"instances": "nope"}}}',
      '{"kind": "compute#instanceAggregatedList", "items": {"zones/us-central1-a": {"instances": [{"status": "RUNNING"}]}}}',
      '{"kind": "compute#instanceAggregatedList", "nextPageToken": "again"}',
      '{"status": "DONE"}',
      '{"kind": "compute#operation", "status": "RUNNING"}',
      '{"kind": "compute#operation", "name": "op-x", "status": "DONE", "error": {"errors": "x"}}',
      '{"kind": "compute#instance"}',
      '{"name": 5, "status": {}}',
      '<?xml version="1.0"?><Error/>',
    ),
  );
}

/** An answer for one API call. */
function answerArb(bodies: fc.Arbitrary<string>): fc.Arbitrary<Answer> {
  return fc.oneof(
    {
      weight: 16,
      arbitrary: fc.record({
        kind: fc.constant('garbage' as const),
        status: fc.constantFrom(200, 200, 201, 204, 301, 302, 400, 401, 403, 404, 409, 412, 418, 429, 500, 502, 503, 504, 599),
        contentType: fc.constantFrom('text/xml;charset=UTF-8', 'application/json; charset=UTF-8', 'text/html', 'text/plain', '', 'application/octet-stream'),
        body: bodies,
        truncate: fc.boolean(),
        delayMs: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 60 }) }),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('slow' as const), delayMs: fc.integer({ min: 1, max: REQUEST_TIMEOUT_MS / 4 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('hang' as const) }) },
  );
}

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

async function ec2Target(): Promise<Target> {
  const fake = new FakeEC2({ pageSize: 2 });
  await fake.start();
  fake.setSpotPrices([{ instanceType: 'm5.large', availabilityZone: 'us-east-1a', price: '0.05', timestamp: new Date('2026-01-01T00:00:00Z') }]);
  const proxy = new GarbageProxy(fake.url, (_m, _p, body) => new URLSearchParams(body).get('Action') ?? '');
  await proxy.start();
  const { driver, ctx } = makeEc2Driver(fake, {
    // Spot prices fetched at every listing, so that DescribeSpotPriceHistory gets garbage too.
    params: ec2FakeParams(fake, { Endpoint: proxy.url, SpotPriceUpdateInterval: '1ms' }),
    options: { retryDelayMs: 1, requestTimeoutMs: REQUEST_TIMEOUT_MS },
    logger: silentLogger(),
  });
  const setId = ctx.instanceSetId;
  let spot = false;
  return {
    name: 'ec2',
    proxy,
    driver,
    setId,
    kinds: {
      create: ['RunInstances', 'DescribeKeyPairs', 'ImportKeyPair'],
      list: ['DescribeInstances', 'DescribeSpotPriceHistory'],
      destroy: ['TerminateInstances'],
      setTags: ['CreateTags', 'DeleteTags'],
    },
    bodies: ec2Bodies([...THROTTLE_CODES, ...QUOTA_CODES, ...TYPE_CAPACITY_CODES]),
    codes: [...[...THROTTLE_CODES].map((c): [string, 'rate'] => [c, 'rate']), ...[...QUOTA_CODES].map((c): [string, 'quota'] => [c, 'quota']), ...[...TYPE_CAPACITY_CODES].map((c): [string, 'capacity'] => [c, 'capacity'])],
    create() {
      // Every other one a spot instance, so listings fetch spot prices; a new key each time, so creates import it.
      spot = !spot;
      const { tags, init } = ec2CreateArgs(setId, spot ? SPOT.Name : M5.Name);
      return driver.create(spot ? SPOT : M5, 'ami-fuzz', tags, init, generateSshKeyPair().public);
    },
    truth: () => new Set(fake.instances().filter((i) => i.tags.ArvadosInstanceSetID === setId && !['shutting-down', 'terminated'].includes(i.state)).map((i) => i.id)),
    async stop() {
      driver.stop();
      await proxy.stop();
      await fake.stop();
    },
  };
}

/** The Compute call a request is, from its method and path. */
function gceKind(method: string, path: string): string {
  if (/\/aggregated\/instances$/.test(path)) return 'aggregatedList';
  if (/\/operations\/[^/]+(\/wait)?$/.test(path)) return 'operation';
  const m = /\/instances(?:\/[^/]+(?:\/(\w+))?)?$/.exec(path);
  if (!m) return 'other';
  if (m[1]) return m[1];
  if (path.endsWith('/instances')) return 'insert';
  return method === 'DELETE' ? 'delete' : 'get';
}

async function gceTarget(): Promise<Target> {
  const fake = new FakeGCE({ pageSize: 2, waitMaxMs: 50 });
  await fake.start();
  const proxy = new GarbageProxy(fake.url, (m, p) => gceKind(m, p));
  await proxy.start();
  const { driver, ctx } = await makeGceDriver(fake, {
    params: gceFakeParams(fake, { Endpoint: proxy.url }),
    options: { retryDelayMs: 1, operationPollMs: 1, requestTimeoutMs: REQUEST_TIMEOUT_MS },
  });
  const setId = ctx.instanceSetId;
  return {
    name: 'gce',
    proxy,
    driver,
    setId,
    kinds: { create: ['insert', 'operation', 'get'], list: ['aggregatedList'], destroy: ['delete'], setTags: ['setMetadata', 'setLabels', 'operation', 'get'] },
    bodies: gceBodies([...RATE_LIMIT_REASONS, ...QUOTA_REASONS, ...ZONE_CAPACITY_CODES]),
    codes: [
      ...[...RATE_LIMIT_REASONS].map((c): [string, 'rate'] => [c, 'rate']),
      ...[...QUOTA_REASONS].map((c): [string, 'quota'] => [c, 'quota']),
      ...[...ZONE_CAPACITY_CODES].map((c): [string, 'capacity'] => [c, 'capacity']),
    ],
    create() {
      const { tags, init } = gceCreateArgs(setId);
      return driver.create(N2, GCE_IMAGE, tags, init, generateSshKeyPair().public);
    },
    truth: () => new Set(fake.instances().filter((i) => !i.deleted && !i.deleting && i.metadata['arvados-tags']?.includes(setId)).map((i) => i.name)),
    async stop() {
      driver.stop();
      await proxy.stop();
      await fake.stop();
    },
  };
}

interface Case {
  call: Call;
  kindIndex: number;
  answer: Answer;
}

function caseArb(t: Target): fc.Arbitrary<Case> {
  return fc.record({ call: fc.constantFrom<Call>('create', 'list', 'destroy', 'setTags'), kindIndex: fc.nat(), answer: answerArb(t.bodies) });
}

const ourTags = (t: Target): InstanceTags => ({ ArvadosInstanceSetID: t.setId });

/**
 * Runs `fn` once the endpoint is healed. A request of this test's short
 * timeout may still time out on a machine busy with other work: that is
 * tried again, any other failure is not.
 */
async function healed<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 3 || !/Timeout/.test((err as Error).name)) throw err;
    }
  }
}

const listHealed = (t: Target): Promise<Instance[]> => healed(() => t.driver.instances(ourTags(t)));

/**
 * Runs one case against `t`; throws (an assertion) when a property does not
 * hold. Instances in `standing` stay; the others a case made are destroyed.
 */
async function runCase(t: Target, c: Case, standing: Set<string>, rejections: unknown[]): Promise<void> {
  const kinds = t.kinds[c.call];
  const kind = kinds[c.kindIndex % kinds.length];
  const what = `${t.name} ${c.call} with ${kind} answered ${JSON.stringify(c.answer).slice(0, 300)}`;
  let victim: Instance | undefined;
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

/**
 * The pool over the ec2 driver with garbage answers: a create that fails
 * leaves creates held (back-off, rate limit, quota or capacity: whichever
 * the error says) instead of calling again at once; a listing that fails
 * leaves the workers as they were and is not repeated before SyncInterval;
 * once the endpoint heals and the hold has passed, creates and listings work.
 */
describe('the worker pool over fuzzed ec2 answers', function () {
  this.timeout(fuzzTimeout(QUICK_RUNS.pool, 120_000, SHARE.pool));
  let t: Target;
  const standing = new Set<string>();

  before(async () => {
    t = await ec2Target();
    for (let i = 0; i < 2; i++) standing.add((await t.create()).id);
  });
  after(async () => t?.stop());

  function newPool(clock: ManualClock): WorkerPoolImpl {
    const cluster = ec2Cluster();
    const vms = cluster.Containers.CloudVMs;
    // Nothing here is about probes: the VMs stay booting for the whole check.
    vms.TimeoutBooting = vms.TimeoutProbe = vms.TimeoutIdle = 24 * 3600_000;
    vms.MaxConcurrentInstanceCreateOps = 1;
    const logger = silentLogger();
    return new WorkerPoolImpl({
      cluster,
      instanceSet: wrapInstanceSet(t.driver, { clock, logger, maxCloudOpsPerSecond: 0, resourceTags: {} }),
      newExecutor: (inst) => ({
        execute: () => Promise.reject(new SshConnectError(`${inst.address}:22`, 'refused', 'not reachable in this test')),
        setTarget: () => undefined,
        close: () => undefined,
      }),
      clock,
      logger,
      instanceSetId: t.setId,
      publicKey: DISPATCH_KEY.public,
    });
  }

  it('backs off from a failing create or listing, keeps its workers, and recovers when the endpoint heals', async () => {
    const kinds = ['RunInstances', 'DescribeKeyPairs', 'DescribeInstances'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...kinds), answerArb(t.bodies), async (kind, answer) => {
        // The pool's clock starts at the wall clock's time, which the driver's rate-limit retry times use.
        const clock = new ManualClock(systemClock.now());
        const pool = newPool(clock);
        const what = `${kind} answered ${JSON.stringify(answer).slice(0, 300)}`;
        try {
          pool.start();
          await waitFor('the first listing', () => pool.loaded(), 30_000);
          const known = () => pool.instances().map((v) => v.instance).sort();
          assert.deepEqual(known(), [...standing].sort());
          t.proxy.arm(kind, answer);
          if (kind === 'DescribeInstances') {
            const lists = t.proxy.count(kind);
            await clock.advance(ec2Cluster().Containers.CloudVMs.SyncInterval);
            await waitFor('the listing to be tried', () => t.proxy.count(kind) > lists);
            await settle(8);
            // One listing (a few pages at most, each maybe timing out), then nothing until the next SyncInterval.
            await delay(REQUEST_TIMEOUT_MS * 4);
            const tried = t.proxy.count(kind);
            assert.ok(tried - lists <= 4, `${what}: ${tried - lists} DescribeInstances for one listing`);
            await delay(REQUEST_TIMEOUT_MS * 2);
            assert.equal(t.proxy.count(kind), tried, `${what}: listed again at once`);
            assert.deepEqual(known(), [...standing].sort(), `${what}: workers changed on a failed listing`);
          } else {
            const runs = t.proxy.count('RunInstances');
            assert.ok(pool.create(M5), `${what}: the first create was declined`);
            await waitFor('the create to end', () => pool.createBlocker(M5) !== 'reached MaxConcurrentInstanceCreateOps', CALL_DEADLINE_MS);
            await settle(8);
            const created = known().filter((id) => !standing.has(id));
            if (created.length === 0) {
              // Failed: the next create is held, and the cloud is not asked again.
              const calls = t.proxy.count('RunInstances');
              assert.equal(pool.create(M5), undefined, `${what}: created again at once after a failure`);
              assert.notEqual(pool.createBlocker(M5), undefined);
              await settle(8);
              assert.equal(t.proxy.count('RunInstances'), calls, `${what}: called RunInstances again at once`);
              assert.ok(calls - runs <= 3, `${what}: ${calls - runs} RunInstances for one create`);
            }
          }
          // Healed, and past any hold: a create and a listing work.
          t.proxy.heal();
          await clock.advance(120_000);
          await settle(8);
          const before = new Set(known());
          assert.ok(pool.create(M5), `${what}: declined after healing: ${pool.createBlocker(M5) ?? ''}`);
          await waitFor('the create after healing', () => known().some((id) => !before.has(id) && !id.startsWith('pending-')), CALL_DEADLINE_MS);
          await pool.syncNow();
          assert.deepEqual(known(), [...t.truth()].sort(), `${what}: the pool's instances differ from the cloud's after healing`);
        } finally {
          t.proxy.heal();
          pool.stop();
          for (const inst of await listHealed(t)) if (!standing.has(inst.id)) await inst.destroy();
        }
      }),
      // Each case is a whole create-fail-heal cycle of a pool.
      fuzzParams(QUICK_RUNS.pool, SHARE.pool),
    );
  });
});

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
