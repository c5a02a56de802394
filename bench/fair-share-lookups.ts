/**
 * Controller load of fair share's owner lookups (`src/placement/owners.ts`)
 * at 10k queued containers: the requests and response bytes to learn every
 * container's owner from a cold start (a dispatcher start), then per poll
 * in steady state as new containers arrive. See bench/README.md
 * ("Fair share (issue 15)").
 *
 *   node --import tsx bench/fair-share-lookups.ts [--queued N] [--arrivals K]
 *
 * What runs: the test controller over its in-process transport (same
 * handler and JSON as over HTTP), the real `ControllerClient`,
 * `RequestDirectory` and `OwnerResolver`; with `--all-features`, the
 * spending cap's resolver, pre-warming's and reclaim escalation's lookups
 * also read every container through the same directory, as they do in the
 * daemon with every feature on. The queue: N containers, a tenth of them children of
 * workflow runners (one runner per 10 children, the runners running and
 * not themselves queued), each with its container request.
 */
import { ControllerClient } from '../src/arvados/client.js';
import type { RawRequest, RawResponse, RawTransport } from '../src/arvados/http.js';
import { ManualClock } from '../src/clock/manual.js';
import { silentLogger } from '../src/log.js';
import { OwnerResolver } from '../src/placement/owners.js';
import { ParentLookup } from '../src/placement/parents.js';
import { RequestDirectory } from '../src/placement/requests.js';
import { RateLimitedLog } from '../src/log.js';
import { TestController } from '../src/testcontroller/index.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const queued = arg('--queued', 10_000);
const arrivals = arg('--arrivals', 100);
const allFeatures = args.includes('--all-features');
const TOKEN = 'benchRootTokenXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX';

const clock = new ManualClock();
const ctl = new TestController({ rootToken: TOKEN, clock });
let calls = 0;
let bytes = 0;
const inner = ctl.inProcessTransport();
const counting: RawTransport = {
  async send(req: RawRequest): Promise<RawResponse> {
    const res = await inner.send(req);
    if (req.url.pathname.includes('/container_requests')) {
      calls++;
      bytes += res.text.length;
    }
    return res;
  },
  close: () => inner.close(),
};
const client = new ControllerClient({ baseURL: 'http://controller.invalid', token: TOKEN, clock, logger: silentLogger(), transport: counting });
const requests = new RequestDirectory({ client, clock, logger: silentLogger() });
const resolver = new OwnerResolver({ requests, clock, logger: silentLogger(), by: 'owner' });
const others = allFeatures
  ? [
      new OwnerResolver({ requests, clock, logger: silentLogger(), by: 'project', label: 'spending cap' }),
      new ParentLookup(requests, new RateLimitedLog(silentLogger(), clock)),
      new ParentLookup(requests, new RateLimitedLog(silentLogger(), clock), { field: 'uuid', label: 'reclaim escalation' }),
    ]
  : [];
/** What one pass reads: fair share's owners, and with every feature on the others' answers too. */
function pass(): void {
  resolver.update(live);
  for (const o of others) for (const u of live) (o instanceof OwnerResolver ? o.ownerOf(u) : o.parentOf(u));
}

const live: string[] = [];
function submit(n: number): void {
  for (let i = 0; i < n; i++) {
    const owner = `zzzzz-tpzed-${String(live.length % 50).padStart(15, '0')}`;
    if (live.length % 10 === 9) {
      // A child: its runner (Running, not in the live list's queued part) made its request.
      const runner = ctl.addContainer({ state: 'Running' });
      ctl.addContainerRequest({ owner_uuid: owner, container_uuid: runner.uuid });
      const c = ctl.addContainer();
      ctl.addContainerRequest({ owner_uuid: owner, container_uuid: c.uuid, requesting_container_uuid: runner.uuid });
      live.push(c.uuid, runner.uuid);
    } else {
      const c = ctl.addContainer();
      ctl.addContainerRequest({ owner_uuid: owner, container_uuid: c.uuid });
      live.push(c.uuid);
    }
  }
}

/** Passes until every live container's owner is known; the passes it took. */
async function untilKnown(): Promise<number> {
  let passes = 0;
  while (live.some((u) => resolver.ownerOf(u) === undefined)) {
    pass();
    await clock.advance(1);
    passes++;
  }
  return passes;
}

submit(queued);
const t0 = performance.now();
const passes = await untilKnown();
const coldMs = performance.now() - t0;
console.log(allFeatures ? 'fair share, spending cap per owner, pre-warming and reclaim escalation reading one directory' : 'fair share alone');
console.log(`cold start, ${live.length} containers in the queue (runners included): ${calls} requests, ${(bytes / 1024).toFixed(0)} KiB of responses, ${passes} passes, ${coldMs.toFixed(0)} ms`);

const polls = 10;
calls = 0;
bytes = 0;
for (let p = 0; p < polls; p++) {
  submit(arrivals);
  await untilKnown();
  pass();
  await clock.advance(1);
}
console.log(`steady: ${arrivals} new containers a poll: ${(calls / polls).toFixed(1)} requests and ${(bytes / polls / 1024).toFixed(1)} KiB a poll; known containers cost nothing`);
