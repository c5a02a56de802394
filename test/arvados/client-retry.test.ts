/**
 * The controller client when the controller misbehaves: 503s and 429s
 * (never retried inside a call), 408/500/502/504, nothing listening or a
 * connection reset (the window and the health record), slow answers, an
 * abort, and lock/unlock retries whose first attempt took effect although
 * its answer was lost.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ControllerClient as Client, ControllerError, controllerRequestTimeoutMs, DEFAULT_RETRY, type ControllerClient } from '../../src/arvados/client.js';
import { ManualClock } from '../../src/clock/index.js';
import { DispatchLockLostError, isDispatchLockLostError } from '../../src/dblock/fence.js';
import { loadConfigText } from '../../src/config/index.js';
import type { TestController } from '../fixtures/controller.js';
import { captureLogger, drive, makeClient, OTHER_UUID, ROOT_TOKEN, started, startController, waitFor } from './helpers.js';
import { OUTAGE_AFTER_MS } from '../../src/arvados/health.js';
import { isControllerRefusal } from '../../src/arvados/errors.js';

const GET_ONE = 'GET /arvados/v1/containers/{uuid}';
const LOCK = 'POST /arvados/v1/containers/{uuid}/lock';

/** The next `count` requests get `status` (502, 504: a proxy whose controller is away). */
function failWith(ctl: TestController, status: number, count: number): void {
  let left = count;
  ctl.setHook(() => (left-- > 0 ? { status, body: { errors: [`${status} from the proxy`] } } : undefined));
}

/** A port nothing listens on (just released by a server that had it). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe('ControllerClient retries', () => {
  let ctl: TestController | undefined;
  let client: ControllerClient | undefined;

  afterEach(async () => {
    client?.close();
    await ctl?.stop();
    client = undefined;
    ctl = undefined;
  });

  it('does not retry a 503: fails at once with a temporary error, and records when it came', async () => {
    ctl = await startController();
    client = makeClient(ctl.url);
    const c = ctl.addContainer();
    assert.equal(client.last503(), 0);
    ctl.fail503(1);
    const before = Date.now();
    await assert.rejects(client.getContainer(c.uuid), (e: ControllerError) => e.status === 503 && e.temporary && e.attempts === 1);
    assert.deepEqual(ctl.requestLog().map((r) => r.status), [503]);
    assert.ok(client.last503() >= before && client.last503() <= Date.now());
    assert.equal((await client.getContainer(c.uuid)).uuid, c.uuid, 'the next call goes through');
  });

  it('does not retry a 429 either', async () => {
    ctl = await startController();
    client = makeClient(ctl.url);
    failWith(ctl, 429, 1);
    await assert.rejects(client.currentTokenUuid(), (e: ControllerError) => e.status === 429 && e.attempts === 1);
    assert.equal(ctl.requestLog().length, 1);
  });

  it('retries 502 and 504 twice by default, 250 ms then 1 s apart', async () => {
    const clock = new ManualClock();
    ctl = await startController({ clock });
    client = makeClient(ctl.url, { clock, retry: DEFAULT_RETRY });
    let n = 0;
    ctl.setHook(() => (++n <= 2 ? { status: n === 1 ? 502 : 504, body: { errors: ['proxy'] } } : undefined));
    const p = client.currentTokenUuid();
    await waitFor('the 250 ms backoff', () => clock.nextTimerAt() === clock.now() + 250);
    await clock.advance(250);
    await waitFor('the 1 s backoff', () => clock.nextTimerAt() === clock.now() + 1000);
    await clock.advance(1000);
    assert.equal(await p, ctl.rootTokenUuid);
    assert.deepEqual(ctl.requestLog().map((r) => r.status), [502, 504, 200]);
    const ids = ctl.requestLog().map((r) => r.requestId);
    assert.match(ids[0] ?? '', /^req-[0-9a-z]{20}$/);
    assert.deepEqual(ids, [ids[0], ids[0], ids[0]], "one X-Request-Id for all of a call's attempts");
  });

  it('does not retry other 5xx inside the call (501, 505, 507): they come back the same; the caller may try later', async () => {
    for (const status of [501, 505, 507]) {
      await ctl?.stop();
      ctl = await startController();
      client = makeClient(ctl.url, { retry: DEFAULT_RETRY });
      failWith(ctl, status, 3);
      await assert.rejects(client.currentTokenUuid(), (e: ControllerError) => e.status === status && e.attempts === 1 && e.temporary);
      assert.equal(ctl.requestLog().length, 1, `HTTP ${status} sent once`);
    }
  });

  it('retries a 503 when told to (retryOverload: a crunch-run reporting on its one container)', async () => {
    ctl = await startController();
    client = makeClient(ctl.url, { retry: { retryOverload: true } });
    ctl.fail503(2);
    assert.equal(await client.currentTokenUuid(), ctl.rootTokenUuid);
    assert.deepEqual(ctl.requestLog().map((r) => r.status), [503, 503, 200]);
  });

  it('takes last503 from the injected clock, at the moment the 503 arrives', async () => {
    const clock = new ManualClock();
    ctl = await startController({ clock });
    client = makeClient(ctl.url, { clock });
    await clock.advance(5000);
    ctl.fail503(1);
    await assert.rejects(client.currentTokenUuid(), /HTTP 503/);
    assert.equal(client.last503(), clock.now());
  });

  it('gives up after the configured attempts with a temporary ControllerError', async () => {
    ctl = await startController();
    const { logger, lines } = captureLogger();
    client = makeClient(ctl.url, { logger });
    failWith(ctl, 504, 3);
    await assert.rejects(client.currentTokenUuid(), (e: ControllerError) => {
      assert.ok(e instanceof ControllerError);
      assert.equal(e.status, 504);
      assert.equal(e.temporary, true);
      assert.equal(e.attempts, 3);
      assert.match(e.message, /^GET \/arvados\/v1\/api_client_authorizations\/current: giving up after 3 attempts: HTTP 504: 504 from the proxy \(request req-[0-9a-z]{20}\)$/);
      assert.equal(e.requestId, ctl!.requestLog()[0].requestId);
      assert.ok(e.message.endsWith(`(request ${e.requestId})`));
      return true;
    });
    assert.equal(ctl.requestLog().length, 3);
    const retryLine = lines.records().find((r) => r.level === 'warning' && r.msg === 'controller request failed, will retry');
    assert.equal(retryLine?.RequestId, ctl.requestLog()[0].requestId);
    assert.ok(!lines.lines.join('\n').includes(ROOT_TOKEN));
    // A failure is not remembered: the next call asks again.
    assert.equal(await client.currentTokenUuid(), ctl.rootTokenUuid);
  });

  it('retries a network error (nothing listening yet), then reaches the controller', async () => {
    const port = await freePort();
    const clock = new ManualClock();
    const { logger, lines } = captureLogger();
    client = makeClient(`http://127.0.0.1:${port}`, { clock, logger, retry: { attempts: 5, firstBackoffMs: 1000, maxBackoffMs: 1000 } });
    const p = client.currentTokenUuid();
    // Let the first attempt fail against the closed port; it then sleeps on the manual clock.
    await waitFor('the first attempt to fail', () => lines.records().some((r) => r.msg === 'controller request failed'));
    assert.match(String(lines.records().find((r) => r.msg === 'controller request failed')?.error), /ECONNREFUSED/);
    ctl = await startController({ clock, port });
    await clock.advance(1000);
    assert.equal(await p, ctl.rootTokenUuid);
  });

  it('describes a network error it gave up on', async () => {
    const port = await freePort();
    client = makeClient(`http://127.0.0.1:${port}`, { retry: { attempts: 2 } });
    await assert.rejects(client.getContainer('zzzzz-dz642-000000000000001'), (e: ControllerError) => {
      assert.equal(e.status, undefined);
      assert.equal(e.temporary, true);
      assert.match(e.message, /^GET \/arvados\/v1\/containers\/zzzzz-dz642-000000000000001: giving up after 2 attempts: connect ECONNREFUSED/);
      return true;
    });
  });

  it('waits out a slow controller on the clock when it answers within the timeout', async () => {
    const clock = new ManualClock();
    ctl = await startController({ clock });
    client = makeClient(ctl.url, { clock, retry: { requestTimeoutMs: 5000 } });
    const c = ctl.addContainer();
    ctl.setLatency(4000);
    const p = client.getContainer(c.uuid);
    await waitFor('the request to arrive', () => started(ctl!, GET_ONE) === 1);
    await clock.advance(4000);
    assert.equal((await p).uuid, c.uuid);
    assert.equal(started(ctl, GET_ONE), 1, 'no retry');
  });

  it('abandons an attempt after requestTimeoutMs on the clock and does not send it again: the controller may still be doing it', async () => {
    const clock = new ManualClock();
    ctl = await startController({ clock });
    const { logger, lines } = captureLogger();
    client = makeClient(ctl.url, { clock, logger, retry: { requestTimeoutMs: 1000, firstBackoffMs: 100, maxBackoffMs: 100 } });
    const c = ctl.addContainer();
    ctl.setLatency(60_000);
    const p = client.getContainer(c.uuid);
    await waitFor('the first attempt to arrive', () => started(ctl!, GET_ONE) === 1);
    let settled = false;
    p.finally(() => (settled = true)).catch(() => undefined);
    await clock.advance(999);
    assert.equal(settled, false, 'still waiting 1 ms before the timeout');
    ctl.setLatency(0);
    await clock.advance(1);
    await assert.rejects(p, (e: ControllerError) => {
      assert.equal(e.status, undefined);
      assert.equal(e.temporary, true, 'the caller may try again later');
      assert.equal(e.attempts, 1);
      assert.match(e.message, /: no response within 1000 ms \(request req-[0-9a-z]{20}\)$/);
      return true;
    });
    // Well past any backoff: nothing more was sent.
    await clock.advance(10_000);
    assert.equal(started(ctl, GET_ONE), 1);
    assert.ok(!lines.records().some((r) => r.msg === 'controller request failed, will retry'));
  });

  it('retries a 502, then gives up when the retry times out', async () => {
    const clock = new ManualClock();
    ctl = await startController({ clock });
    client = makeClient(ctl.url, { clock, retry: { attempts: 3, requestTimeoutMs: 1000, firstBackoffMs: 100, maxBackoffMs: 100 } });
    let n = 0;
    ctl.setHook(() => (++n === 1 ? { status: 502, body: { errors: ['proxy'] } } : undefined));
    const p = client.currentTokenUuid();
    await waitFor('the 502', () => ctl!.requestLog().length === 1);
    ctl.setLatency(60_000);
    await assert.rejects(drive(clock, p, 100), /giving up after 2 attempts: no response within 1000 ms \(request req-[0-9a-z]{20}\)$/);
    await clock.advance(10_000);
    assert.equal(started(ctl, 'GET /arvados/v1/api_client_authorizations/current'), 2, 'no third attempt');
  });
  it('stops at once, retries included, when its signal aborts', async () => {
    ctl = await startController();
    const abort = new AbortController();
    const clock = new ManualClock();
    client = makeClient(ctl.url, { clock, signal: abort.signal, retry: { firstBackoffMs: 60_000, maxBackoffMs: 60_000 } });
    failWith(ctl, 502, 5);
    const p = client.currentTokenUuid();
    await waitFor('the first 502', () => ctl!.requestLog().length === 1);
    await waitFor('the backoff', () => clock.nextTimerAt() === clock.now() + 60_000);
    abort.abort();
    await assert.rejects(p, (e: Error) => e.name === 'AbortError');
    assert.equal(ctl.requestLog().length, 1);
  });

  describe('lock and unlock, whose effect may outlive a lost answer', () => {
    /** Makes the first request on `route` take effect through `apply`, then answers 502 as a broken proxy would. */
    const loseFirstAnswer = (route: RegExp, apply: (uuid: string) => void) => {
      let done = false;
      ctl!.setHook((req) => {
        const m = route.exec(req.path);
        if (!m || done) return undefined;
        done = true;
        apply(m[1]);
        return { status: 502, body: { errors: ['502 Bad Gateway'] } };
      });
    };

    it('counts a retried lock that finds the container Locked by us as success', async () => {
      ctl = await startController();
      const { logger, lines } = captureLogger();
      client = makeClient(ctl.url, { logger });
      const c = ctl.addContainer();
      const me = ctl.rootTokenUuid;
      loseFirstAnswer(/\/containers\/([^/]+)\/lock$/, (uuid) => ctl!.setFields(uuid, { state: 'Locked', locked_by_uuid: me, lock_count: 1 }));
      const got = await client.lockContainer(c.uuid);
      assert.equal(got.state, 'Locked');
      assert.equal(got.locked_by_uuid, me);
      assert.equal(started(ctl, LOCK), 2, 'the retry was refused with 422, then checked');
      assert.ok(lines.records().some((r) => r.msg === 'controller: retried lock was refused, but an earlier attempt had succeeded'));
    });

    it('reports the refusal when a retried lock finds the container locked by someone else', async () => {
      ctl = await startController();
      client = makeClient(ctl.url);
      const c = ctl.addContainer();
      loseFirstAnswer(/\/containers\/([^/]+)\/lock$/, (uuid) => ctl!.setFields(uuid, { state: 'Locked', locked_by_uuid: OTHER_UUID, lock_count: 1 }));
      await assert.rejects(client.lockContainer(c.uuid), (e: ControllerError) => e.status === 422 && e.errors[0] === 'cannot lock when Locked');
    });

    it('consults the fence before every attempt: after the dispatch lock is lost, a retry of a lock is not sent', async () => {
      ctl = await startController();
      let held = true;
      const checks: string[] = [];
      client = makeClient(ctl.url, {
        fence: {
          check: (a) => {
            checks.push(`${a.Action} ${String(a.ContainerUUID)}`);
            if (!held) throw new DispatchLockLostError('dispatch lock lost');
          },
        },
      });
      const c = ctl.addContainer();
      // The first attempt gets a 502 (retried in the call), and the lock is lost meanwhile.
      let first = true;
      ctl.setHook(() => {
        if (!first) return undefined;
        first = false;
        held = false;
        return { status: 502, body: { errors: ['502 Bad Gateway'] } };
      });
      await assert.rejects(client.lockContainer(c.uuid), (e: unknown) => isDispatchLockLostError(e));
      assert.equal(started(ctl, LOCK), 1, 'the retry did not go out');
      assert.deepEqual(checks, [`lock ${c.uuid}`, `lock ${c.uuid}`]);
      assert.equal(ctl.get(c.uuid)?.state, 'Queued');
    });

    it('refuses a lock on its first attempt without looking further', async () => {
      ctl = await startController();
      client = makeClient(ctl.url);
      const c = ctl.addContainer({ state: 'Locked' });
      await assert.rejects(client.lockContainer(c.uuid), /HTTP 422: cannot lock when Locked/);
      assert.equal(ctl.stats[GET_ONE], undefined, 'no check: nothing was ambiguous');
    });

    it('counts a retried unlock that finds the container no longer ours as success', async () => {
      ctl = await startController();
      client = makeClient(ctl.url);
      const c = ctl.addContainer();
      await client.lockContainer(c.uuid);
      loseFirstAnswer(/\/containers\/([^/]+)\/unlock$/, (uuid) => ctl!.setFields(uuid, { state: 'Queued', locked_by_uuid: null }));
      const got = await client.unlockContainer(c.uuid);
      assert.equal(got.state, 'Queued');
    });

    it('does not send a timed-out lock again, nor read the container: the lock fails with a temporary error, and the lock the controller made later stands', async () => {
      const clock = new ManualClock();
      ctl = await startController({ clock });
      client = makeClient(ctl.url, { clock, retry: { requestTimeoutMs: 1000, firstBackoffMs: 100, maxBackoffMs: 100 } });
      const c = ctl.addContainer();
      ctl.setLatency(5000);
      const p = client.lockContainer(c.uuid);
      const failed = assert.rejects(p, (e: ControllerError) => e.temporary && e.status === undefined && e.attempts === 1);
      await waitFor('the lock to arrive', () => started(ctl!, LOCK) === 1);
      await clock.advance(1000);
      await failed;
      // The controller was still at it: it locks the container after the client left.
      await clock.advance(4000);
      await waitFor('the controller to finish the lock', () => ctl!.get(c.uuid)?.state === 'Locked');
      await clock.advance(10_000);
      assert.equal(started(ctl, LOCK), 1, 'one lock sent');
      assert.equal(ctl.stats[GET_ONE], undefined, 'no check: the call ended at the timeout');
      assert.equal(ctl.get(c.uuid)?.locked_by_uuid, ctl.rootTokenUuid);
    });

    it('does not retry a lock refused with 503 (nothing happened); the next call locks it', async () => {
      ctl = await startController();
      client = makeClient(ctl.url);
      const c = ctl.addContainer();
      ctl.fail503(1, (r) => r.path.endsWith('/lock'));
      await assert.rejects(client.lockContainer(c.uuid), (e: ControllerError) => e.status === 503 && e.attempts === 1);
      assert.equal(ctl.get(c.uuid)?.state, 'Queued');
      assert.equal((await client.lockContainer(c.uuid)).state, 'Locked');
      assert.equal(ctl.get(c.uuid)?.lock_count, 1);
    });
  });

  describe("the daemon's client (fromCluster): a per-attempt limit past the controller's API.RequestTimeout", () => {
    const clusterWith = (requestTimeout: string | undefined) => {
      const api = requestTimeout === undefined ? '' : `    API:\n      RequestTimeout: ${requestTimeout}\n`;
      const yaml = `Clusters:\n  zzzzz:\n    SystemRootToken: ${ROOT_TOKEN}\n${api}    Services:\n      Controller:\n        ExternalURL: ${ctl!.url}/\n`;
      return loadConfigText(yaml).cluster;
    };

    it('is RequestTimeout + 10 s, at least 60 s; 10 minutes when the controller has no deadline (0)', () => {
      assert.equal(controllerRequestTimeoutMs(300_000), 310_000);
      assert.equal(controllerRequestTimeoutMs(20_000), 60_000);
      assert.equal(controllerRequestTimeoutMs(50_000), 60_000);
      assert.equal(controllerRequestTimeoutMs(51_000), 61_000);
      assert.equal(controllerRequestTimeoutMs(0), 600_000);
      assert.equal(controllerRequestTimeoutMs(-1000), 60_000, 'negative: every waiting request gets 503 at once');
      assert.equal(DEFAULT_RETRY.requestTimeoutMs, 60_000, 'other clients keep a minute');
    });

    /** Holds a details read at the controller for `latencyMs`; resolves with the result and the attempts sent. */
    const slowRead = async (clock: ManualClock, c: ControllerClient, latencyMs: number, advanceMs: number) => {
      const uuid = ctl!.addContainer().uuid;
      ctl!.setLatency(latencyMs);
      const p = c.getContainer(uuid);
      let outcome: unknown;
      p.then(
        (v) => (outcome = v),
        (e: unknown) => (outcome = e),
      );
      await waitFor('the read to arrive', () => started(ctl!, GET_ONE) === 1);
      await clock.advance(advanceMs - 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const before = outcome;
      await clock.advance(1);
      await waitFor('the read to settle', () => outcome !== undefined);
      return { before, outcome, attempts: started(ctl!, GET_ONE) };
    };

    it('waits out a controller that holds a read for two minutes (the default 5m deadline): one attempt, answered', async () => {
      const clock = new ManualClock();
      ctl = await startController({ clock });
      client = Client.fromCluster(clusterWith(undefined), clock, captureLogger().logger);
      const { before, outcome, attempts } = await slowRead(clock, client, 120_000, 120_000);
      assert.equal(before, undefined);
      assert.equal((outcome as { state?: string }).state, 'Queued');
      assert.equal(attempts, 1);
    });

    it('gives up at RequestTimeout + 10 s, once', async () => {
      const clock = new ManualClock();
      ctl = await startController({ clock });
      client = Client.fromCluster(clusterWith('2m'), clock, captureLogger().logger);
      const { before, outcome, attempts } = await slowRead(clock, client, 600_000, 130_000);
      assert.equal(before, undefined, 'still waiting 1 ms before RequestTimeout + 10 s');
      assert.ok(outcome instanceof ControllerError);
      assert.match(outcome.message, /no response within 130000 ms \(request req-[0-9a-z]{20}\)$/);
      assert.equal(attempts, 1);
    });

    it('waits 10 minutes when RequestTimeout is 0', async () => {
      const clock = new ManualClock();
      ctl = await startController({ clock });
      client = Client.fromCluster(clusterWith('0s'), clock, captureLogger().logger);
      const { before, outcome, attempts } = await slowRead(clock, client, 3_600_000, 600_000);
      assert.equal(before, undefined);
      assert.match((outcome as Error).message, /no response within 600000 ms \(request req-[0-9a-z]{20}\)$/);
      assert.equal(attempts, 1);
    });
  });

  it('retries a container update after a 502: the same attributes sent twice leave the same record', async () => {
    ctl = await startController();
    client = makeClient(ctl.url);
    const c = ctl.addContainer();
    await client.lockContainer(c.uuid);
    let n = 0;
    ctl.setHook((req) => (req.method === 'PUT' && ++n === 1 ? { status: 502, body: { errors: ['502 Bad Gateway'] } } : undefined));
    const got = await client.updateContainer(c.uuid, { state: 'Cancelled' });
    assert.equal(got.state, 'Cancelled');
    assert.deepEqual(ctl.requestLog().filter((r) => r.method === 'PUT').map((r) => r.status), [502, 200]);
  });

  it('reports the refusal when a retried unlock finds the container Running by us: it is still ours', async () => {
    ctl = await startController();
    client = makeClient(ctl.url);
    const c = ctl.addContainer();
    await client.lockContainer(c.uuid);
    // The first unlock's answer is lost (502) and crunch-run starts the container meanwhile.
    let done = false;
    ctl.setHook((req) => {
      if (done || !req.path.endsWith('/unlock')) return undefined;
      done = true;
      ctl!.setFields(c.uuid, { state: 'Running' });
      return { status: 502, body: { errors: ['502 Bad Gateway'] } };
    });
    await assert.rejects(client.unlockContainer(c.uuid), (e: ControllerError) => e.status === 422 && e.errors[0] === 'cannot unlock when Running');
    assert.equal(ctl.get(c.uuid)?.state, 'Running');
  });

  it('gives a failed attempt its place in the window back: after more network errors than the window holds, calls still go out', async () => {
    const port = await freePort();
    client = makeClient(`http://127.0.0.1:${port}`, { maxConnections: 2, retry: { attempts: 1 } });
    for (let i = 0; i < 4; i++) await assert.rejects(client.getContainer('zzzzz-dz642-000000000000001'), (e: ControllerError) => e.status === undefined && e.temporary);
    assert.equal(client.window?.active, 0);
    ctl = await startController({ port });
    const c = ctl.addContainer();
    assert.equal((await client.getContainer(c.uuid)).uuid, c.uuid);
  });

  it('records network errors in its health: a controller unreachable for OUTAGE_AFTER_MS is an outage', async () => {
    const port = await freePort();
    const clock = new ManualClock();
    client = makeClient(`http://127.0.0.1:${port}`, { clock, retry: { attempts: 1 } });
    const start = clock.now();
    await assert.rejects(client.getContainer('zzzzz-dz642-000000000000001'), (e: ControllerError) => e.status === undefined);
    await clock.advance(OUTAGE_AFTER_MS);
    await assert.rejects(client.getContainer('zzzzz-dz642-000000000000001'), (e: ControllerError) => e.status === undefined);
    const s = client.signals();
    assert.deepEqual([s.outage, s.failingSince], [true, start]);
    assert.equal(client.health.counts.failed, 2);
  });

  it('does not send a call made without retries again after a network error (a token create: a lost one expires on its own)', async () => {
    const port = await freePort();
    client = makeClient(`http://127.0.0.1:${port}`);
    await assert.rejects(client.request('POST', '/arvados/v1/api_client_authorizations', { body: {}, retry: false }), (e: ControllerError) => {
      assert.deepEqual([e.status, e.attempts, e.temporary], [undefined, 1, true]);
      assert.doesNotMatch(e.message, /giving up after/);
      return true;
    });
  });

  it('says "will retry" only when it will: not after the last attempt', async () => {
    ctl = await startController();
    const { logger, lines } = captureLogger();
    client = makeClient(ctl.url, { logger, retry: { attempts: 1 } });
    failWith(ctl, 502, 1);
    await assert.rejects(client.getContainer('zzzzz-dz642-000000000000001'), (e: ControllerError) => e.status === 502 && e.attempts === 1);
    assert.deepEqual(lines.records().filter((r) => r.level !== 'debug').map((r) => r.msg), []);
  });

  it('says "will retry" at most once in 10 s per HTTP method, and the next line counts those held back', async () => {
    const clock = new ManualClock();
    ctl = await startController({ clock });
    const { logger, lines } = captureLogger();
    client = makeClient(ctl.url, { clock, logger, retry: { attempts: 2 } });
    const c = ctl.addContainer();
    await drive(clock, client.lockContainer(c.uuid), 5);
    // Each call's first attempt gets a 502, its retry goes through.
    let fail = false;
    ctl.setHook(() => {
      if (!fail) return undefined;
      fail = false;
      return { status: 502, body: { errors: ['502 from the proxy'] } };
    });
    const call = async (p: () => Promise<unknown>): Promise<void> => {
      fail = true;
      await drive(clock, p(), 5);
    };
    const retries = (): Record<string, unknown>[] => lines.records().filter((r) => r.msg === 'controller request failed, will retry');
    const start = clock.now();
    await call(() => client!.getContainer(c.uuid));
    await call(() => client!.getContainer(c.uuid));
    assert.equal(retries().length, 1, 'the second GET retry within 10 s is held back');
    await call(() => client!.updateContainer(c.uuid, { runtime_status: { error: 'why' } }));
    assert.deepEqual(retries().map((r) => r.Method), ['GET', 'PUT'], 'a PUT retry is logged apart from the GETs');
    await clock.advance(start + 9_000 - clock.now());
    await call(() => client!.getContainer(c.uuid));
    assert.equal(retries().length, 2, 'a GET retry 9 s after the first logged one is still held back');
    await clock.advance(start + 10_000 - clock.now());
    await call(() => client!.getContainer(c.uuid));
    assert.equal(retries().length, 3, 'a GET retry 10 s after the first logged one is logged');
    assert.equal(retries()[2].Suppressed, 2, 'it counts the two GET retries held back');
  });

  it('ends a request in flight when its signal aborts, with the signal\'s reason', async () => {
    const clock = new ManualClock();
    ctl = await startController({ clock });
    const abort = new AbortController();
    client = makeClient(ctl.url, { clock, signal: abort.signal });
    const c = ctl.addContainer();
    ctl.setLatency(60_000);
    const p = client.getContainer(c.uuid);
    await waitFor('the request to arrive', () => started(ctl!, GET_ONE) === 1);
    const reason = new Error('dispatcher stopping');
    abort.abort(reason);
    await assert.rejects(p, (e: unknown) => e === reason);
    assert.equal(started(ctl, GET_ONE), 1, 'not sent again');
  });

  it('names the error code of a network error whose message lacks it (a connection reset: ECONNRESET: socket hang up)', async () => {
    const hangUp = createServer((socket) => socket.on('data', () => socket.destroy()));
    await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));
    try {
      client = makeClient(`http://127.0.0.1:${(hangUp.address() as AddressInfo).port}`, { retry: { attempts: 1 } });
      await assert.rejects(client.getContainer('zzzzz-dz642-000000000000001'), (e: ControllerError) => {
        assert.equal(e.status, undefined);
        assert.deepEqual(e.errors, ['ECONNRESET: socket hang up']);
        return true;
      });
    } finally {
      await new Promise<void>((resolve) => hangUp.close(() => resolve()));
    }
  });

  it('retries a 408 (request timeout) and a 500 inside the call, as temporary', async () => {
    for (const status of [408, 500]) {
      await ctl?.stop();
      ctl = await startController();
      client = makeClient(ctl.url);
      failWith(ctl, status, 1);
      assert.equal(await client.currentTokenUuid(), ctl.rootTokenUuid, `after a ${status}`);
      assert.deepEqual(ctl.requestLog().map((r) => r.status), [status, 200]);
      failWith(ctl, status, 3);
      await assert.rejects(client.getContainer('zzzzz-dz642-000000000000001'), (e: ControllerError) => e.status === status && e.temporary && e.attempts === 3);
    }
  });

  it('takes a 429 for overload, temporary, never a refusal', async () => {
    ctl = await startController();
    client = makeClient(ctl.url);
    failWith(ctl, 429, 1);
    await assert.rejects(client.currentTokenUuid(), (e: ControllerError) => e.status === 429 && e.temporary && !isControllerRefusal(e));
  });
});
