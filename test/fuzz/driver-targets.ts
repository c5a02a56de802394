/**
 * The cloud drivers the fuzz tests garble (cloud-drivers.test.ts and
 * cloud-drivers-pool.test.ts): the ec2 and gce drivers, with the real SDKs,
 * talking to the fake EC2 and Compute endpoints through a proxy
 * (`garbage-proxy.ts`) that answers one kind of API call with garbage, the
 * garbage answers in each provider's dialect, and listing once healed.
 */
import fc from 'fast-check';
import type { Instance, InstanceSet, InstanceTags } from '../../src/cloud/types.js';
import { silentLogger } from '../../src/log.js';
import { generateSshKeyPair } from '../../src/ssh/keys.js';
import { QUOTA_CODES, THROTTLE_CODES, TYPE_CAPACITY_CODES } from '../../drivers/ec2/errors.js';
import { QUOTA_REASONS, RATE_LIMIT_REASONS, ZONE_CAPACITY_CODES } from '../../drivers/gce/errors.js';
import { FakeEC2 } from '../fixtures/ec2/server.js';
import { FakeGCE } from '../fixtures/gce/server.js';
import { createArgs as ec2CreateArgs, fakeParams as ec2FakeParams, makeDriver as makeEc2Driver, M5, SPOT } from '../drivers/ec2/helpers.js';
import { createArgs as gceCreateArgs, fakeParams as gceFakeParams, IMAGE as GCE_IMAGE, makeDriver as makeGceDriver, N2, ZONES as GCE_ZONES } from '../drivers/gce/helpers.js';
import { type Answer, GarbageProxy } from './garbage-proxy.js';

/** Cases per driver in `npm test` (each gce case is slower: more calls per create, a client library that does more). */
export const QUICK_RUNS = { ec2: 15, gce: 8, pool: 3 };

/** Under FUZZ_RUNS, a driver runs a tenth of it and the pool check a fiftieth (see `fuzzRuns`). */
export const SHARE = { ec2: 10, gce: 10, pool: 50 };

/** Each HTTP request's limit in these tests; a call makes at most a few attempts. */
export const REQUEST_TIMEOUT_MS = 600;

/** Longest a call may take: every attempt timing out, with the retry waits. */
export const CALL_DEADLINE_MS = 10_000;

export type Call = 'create' | 'list' | 'destroy' | 'setTags';

/** One driver under test, behind its proxy. */
export interface Target {
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
  /**
   * Forgets what the driver learnt from an earlier case's garbage and keeps
   * for a while on purpose (zones or subnets "out of capacity" for 60 s), so that
   * each case starts from a healed endpoint and a driver that believes it.
   */
  forget?(): void;
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
export function answerArb(bodies: fc.Arbitrary<string>): fc.Arbitrary<Answer> {
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

export async function ec2Target(): Promise<Target> {
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
    forget() {
      for (const subnet of driver.params.SubnetID) for (const type of [M5, SPOT]) driver.placeCapacity.clear(type, subnet);
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

export async function gceTarget(): Promise<Target> {
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
    forget() {
      for (const zone of GCE_ZONES) driver.placeCapacity.clear(N2, zone);
    },
    truth: () => new Set(fake.instances().filter((i) => !i.deleted && !i.deleting && i.metadata['arvados-tags']?.includes(setId)).map((i) => i.name)),
    async stop() {
      driver.stop();
      await proxy.stop();
      await fake.stop();
    },
  };
}

export const ourTags = (t: Target): InstanceTags => ({ ArvadosInstanceSetID: t.setId });

/**
 * Runs `fn` once the endpoint is healed. A request of this test's short
 * timeout may still time out on a machine busy with other work: that is
 * tried again, any other failure is not.
 */
export async function healed<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 3 || !/Timeout/.test((err as Error).name)) throw err;
    }
  }
}

export const listHealed = (t: Target): Promise<Instance[]> => healed(() => t.driver.instances(ourTags(t)));
