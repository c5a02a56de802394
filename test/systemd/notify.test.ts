/**
 * Readiness and status reach systemd: the real systemd-notify program sends
 * to a fake notify socket (a Python listener, since Node has no AF_UNIX
 * datagram sockets), and the test reads what arrived.
 */
import assert from 'node:assert/strict';
import { notify, notifyArgs, readinessGate, startSystemdNotifier } from '../../src/admin/sd-notify.js';
import { ManualClock, settle } from '../../src/clock/index.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { waitFor } from '../cloud/conformance.js';
import { FakeNotifySocket, have } from './fake-notify-socket.js';

/** A queue and a pool the test sets by hand, shaped as the real ones. */
function fakeDispatcher() {
  const listeners: Array<() => void> = [];
  const state = {
    updated: 0,
    loaded: false,
    containers: new Map<string, { container: { state: string } }>(),
    workers: { unknown: 0, booting: 0, idle: 0, running: 0, shutdown: 0 } as Record<string, number>,
  };
  const subscribe = (l: () => void) => {
    listeners.push(l);
    return () => listeners.splice(listeners.indexOf(l), 1);
  };
  return {
    state,
    changed: () => listeners.forEach((l) => l()),
    listeners,
    dispatcher: {
      queue: { entries: () => ({ entries: state.containers, updated: state.updated }), subscribe },
      pool: { loaded: () => state.loaded, countWorkers: () => ({ ...state.workers }), subscribe },
    },
  };
}

/** A notifier under a manual clock, with NOTIFY_SOCKET set, for a dispatcher that has already polled and listed (READY=1 at once). */
function readyNotifier() {
  const f = fakeDispatcher();
  Object.assign(f.state, { updated: 1, loaded: true });
  const clock = new ManualClock();
  const sent: string[][] = [];
  const n = startSystemdNotifier({ dispatcher: f.dispatcher, clock, logger: createLogger({ stream: new LineCollector() }), env: { NOTIFY_SOCKET: '/fake' }, command: async (args) => void sent.push(args) });
  return { f, clock, sent, n };
}

describe('systemd notify', function () {
  this.timeout(20_000);

  it('without NOTIFY_SOCKET nothing runs', async () => {
    let calls = 0;
    await notify({ ready: true, status: 'x' }, { env: {}, command: async () => void calls++ });
    const n = startSystemdNotifier({ ...fakeDispatcher(), clock: new ManualClock(), logger: createLogger({ stream: new LineCollector() }), env: {}, command: async () => void calls++ });
    await n.stop();
    assert.equal(calls, 0);
  });

  it('builds one-line arguments', () => {
    assert.deepEqual(notifyArgs({ ready: true, status: 'a\nb' }), ['--ready', '--status=a b']);
    assert.deepEqual(notifyArgs({ stopping: true }), ['STOPPING=1']);
  });

  it('a failing systemd-notify is logged once, never thrown', async () => {
    const out = new LineCollector();
    const logger = createLogger({ stream: out, level: 'info' });
    await notify({ ready: true }, { env: { NOTIFY_SOCKET: '/nonexistent' }, logger, command: async () => Promise.reject(new Error('boom')) });
    assert.deepEqual(
      out.records().map((r) => [r.level, r.msg, r.error]),
      [['error', 'error notifying init daemon', 'boom']],
    );
  });

  it('summarises the queue and the pool in one line', () => {
    const f = fakeDispatcher();
    const gate = readinessGate(f.dispatcher);
    assert.equal(gate.isReady(), false);
    assert.equal(gate.summary(), '0 containers, 0 VMs');
    f.state.updated = 1;
    f.state.loaded = true;
    for (const [i, s] of ['Running', 'Queued', 'Queued', 'Locked', 'Complete'].entries()) f.state.containers.set(`c${i}`, { container: { state: s } });
    Object.assign(f.state.workers, { running: 1, booting: 2, idle: 1 });
    assert.equal(gate.isReady(), true);
    assert.equal(gate.summary(), '4 containers (1 running, 1 locked, 2 queued), 4 VMs (1 running, 1 idle, 2 booting)');
  });

  describe('through the real systemd-notify', () => {
    let sock: FakeNotifySocket;
    before(function () {
      if (!have('systemd-notify') || !have('python3')) this.skip();
    });
    beforeEach(async () => {
      sock = new FakeNotifySocket();
      await sock.start();
    });
    afterEach(() => sock.stop());

    it('notify() sends READY=1 and STATUS', async () => {
      await notify({ ready: true, status: 'all good' }, { env: { ...process.env, NOTIFY_SOCKET: sock.path } });
      await waitFor('READY=1', () => sock.lines().includes('READY=1'));
      assert.deepEqual(sock.lines(), ['READY=1', 'STATUS=all good']);
    });

    it('the notifier: starting status, READY=1 after the first poll and cloud list, rate-limited status, STOPPING=1', async () => {
      const f = fakeDispatcher();
      const clock = new ManualClock();
      const out = new LineCollector();
      const n = startSystemdNotifier({
        dispatcher: f.dispatcher,
        clock,
        logger: createLogger({ stream: out, level: 'info' }),
        env: { ...process.env, NOTIFY_SOCKET: sock.path },
        minIntervalMs: 5_000,
      });
      await n.idle();
      await waitFor('the starting status', () => sock.lines().length === 1);
      assert.match(sock.lines()[0]!, /^STATUS=starting: waiting for the first queue poll and cloud instance list$/);

      // The queue has polled but the cloud list is not in yet: not ready.
      f.state.updated = clock.now();
      f.state.containers.set('c1', { container: { state: 'Queued' } });
      f.changed();
      await clock.advance(1_000);
      await n.idle();
      assert.equal(sock.lines().length, 1);

      f.state.loaded = true;
      f.changed();
      await n.idle();
      await waitFor('READY=1', () => sock.lines().length === 3);
      assert.deepEqual(sock.lines().slice(1), ['READY=1', 'STATUS=1 container (1 queued), 0 VMs']);
      assert.match(out.lines.join('\n'), /ready: first queue poll and cloud instance list done/);

      // A change within 5 s waits; the timer sends the latest state once the interval has passed.
      f.state.workers.booting = 1;
      f.changed();
      await clock.advance(1_000);
      f.state.workers.booting = 0;
      f.state.workers.running = 1;
      f.state.containers.set('c1', { container: { state: 'Running' } });
      await clock.advance(2_000);
      await n.idle();
      assert.equal(sock.lines().length, 3);
      await clock.advance(3_000);
      await settle();
      await n.idle();
      await waitFor('the status update', () => sock.lines().length === 4);
      assert.equal(sock.lines()[3], 'STATUS=1 container (1 running), 1 VM (1 running)');

      await n.stop();
      await waitFor('STOPPING=1', () => sock.lines().length === 6);
      assert.deepEqual(sock.lines().slice(4), ['STATUS=stopping: VMs and containers are left for the next start to adopt', 'STOPPING=1']);
      assert.equal(f.listeners.length, 0, 'unsubscribed from queue and pool');
      assert.equal(clock.pendingTimers(), 0, 'the check timer is cancelled');
    });
  });

  it('sends nothing for a state with nothing in it', async () => {
    let calls = 0;
    await notify({}, { env: { NOTIFY_SOCKET: '/fake' }, command: async () => void calls++ });
    assert.equal(calls, 0);
  });

  it('waits for the first queue poll as well as the cloud list before READY=1', async () => {
    const f = fakeDispatcher();
    const sent: string[][] = [];
    const n = startSystemdNotifier({ dispatcher: f.dispatcher, clock: new ManualClock(), logger: createLogger({ stream: new LineCollector() }), env: { NOTIFY_SOCKET: '/fake' }, command: async (args) => void sent.push(args) });
    f.state.loaded = true;
    f.changed();
    await n.idle();
    assert.ok(!sent.some((a) => a.includes('--ready')), `sent ${JSON.stringify(sent)}`);
    f.state.updated = 1;
    f.changed();
    await n.idle();
    assert.deepEqual(sent.at(-1), ['--ready', '--status=0 containers, 0 VMs']);
    await n.stop();
  });

  it('without NOTIFY_SOCKET the notifier sets no timer and listens to nothing', async () => {
    const f = fakeDispatcher();
    const clock = new ManualClock();
    const n = startSystemdNotifier({ dispatcher: f.dispatcher, clock, logger: createLogger({ stream: new LineCollector() }), env: {} });
    assert.equal(clock.pendingTimers(), 0);
    assert.equal(f.listeners.length, 0, 'no queue or pool listener');
    await n.stop();
  });

  it('by default sends a changed status 5 s after the last one, not sooner', async () => {
    const { f, clock, sent, n } = readyNotifier();
    f.state.workers.idle = 1;
    f.changed();
    await clock.advance(4_999);
    await n.idle();
    assert.equal(sent.length, 2, 'the starting status and READY=1 only');
    await clock.advance(1);
    await n.idle();
    assert.deepEqual(sent.at(-1), ['--status=0 containers, 1 VM (1 idle)']);
    await n.stop();
  });

  it('counts the 5 s from the last status sent, not from READY=1', async () => {
    const { f, clock, sent, n } = readyNotifier();
    f.state.workers.idle = 1;
    await clock.advance(5_500);
    f.state.workers.idle = 2;
    await clock.advance(4_499);
    await n.idle();
    assert.equal(sent.length, 3, 'one status 5 s after READY=1');
    await clock.advance(1);
    await n.idle();
    assert.deepEqual(sent.at(-1), ['--status=0 containers, 2 VMs (2 idle)']);
    await n.stop();
  });

  it('does not repeat an unchanged status', async () => {
    const { clock, sent, n } = readyNotifier();
    await clock.advance(20_000);
    await n.idle();
    assert.equal(sent.length, 2, `sent ${JSON.stringify(sent)}`);
    await n.stop();
  });

  it('a second stop sends STOPPING=1 no more', async () => {
    const f = fakeDispatcher();
    const sent: string[][] = [];
    const n = startSystemdNotifier({ dispatcher: f.dispatcher, clock: new ManualClock(), logger: createLogger({ stream: new LineCollector() }), env: { NOTIFY_SOCKET: '/fake' }, command: async (args) => void sent.push(args) });
    await n.stop();
    await n.stop();
    assert.equal(sent.filter((a) => a.includes('STOPPING=1')).length, 1);
  });

  it('the notifier logs a failing systemd-notify once at error, then only at debug level', async () => {
    const out = new LineCollector();
    const n = startSystemdNotifier({ ...fakeDispatcher(), clock: new ManualClock(), logger: createLogger({ stream: out, level: 'debug' }), env: { NOTIFY_SOCKET: '/fake' }, command: async () => Promise.reject(new Error('boom')) });
    await n.stop();
    assert.deepEqual(
      out.records().filter((r) => r.msg === 'error notifying init daemon').map((r) => r.level),
      ['error', 'debug'],
    );
  });

  it('hands messages to systemd-notify one at a time, in order', async () => {
    const f = fakeDispatcher();
    const calls: string[][] = [];
    const waiting: Array<() => void> = [];
    const command = (args: string[]): Promise<void> => {
      calls.push(args);
      return new Promise((resolve) => waiting.push(resolve));
    };
    const n = startSystemdNotifier({ dispatcher: f.dispatcher, clock: new ManualClock(), logger: createLogger({ stream: new LineCollector() }), env: { NOTIFY_SOCKET: '/fake' }, command });
    Object.assign(f.state, { updated: 1, loaded: true });
    f.changed();
    await settle();
    assert.equal(calls.length, 1, 'READY=1 waits until the starting status is handed over');
    waiting.shift()!();
    await settle();
    assert.deepEqual(calls.map((a) => a[0]), ['--status=starting: waiting for the first queue poll and cloud instance list', '--ready']);
    const stopped = n.stop();
    while (waiting.length > 0 || calls.length < 3) {
      waiting.shift()?.();
      await settle();
    }
    await stopped;
  });

  it('says READY=1 at start when the queue and the pool are already loaded', async () => {
    const f = fakeDispatcher();
    Object.assign(f.state, { updated: 1, loaded: true });
    const sent: string[][] = [];
    const n = startSystemdNotifier({ dispatcher: f.dispatcher, clock: new ManualClock(), logger: createLogger({ stream: new LineCollector() }), env: { NOTIFY_SOCKET: '/fake' }, command: async (args) => void sent.push(args) });
    await n.idle();
    assert.deepEqual(sent.at(-1), ['--ready', '--status=0 containers, 0 VMs']);
    await n.stop();
  });

  describe('under the dispatch lock', () => {
    /** A notifier for a daemon under the lock: `lock` is the health text (undefined: held), `tenure` the current dispatcher. */
    function lockedNotifier() {
      const world: { lock: string | undefined; tenure: ReturnType<typeof fakeDispatcher> | undefined } = { lock: 'not dispatching: waiting for the dispatch lock: another process holds it (10.0.0.5:5432)', tenure: undefined };
      const clock = new ManualClock();
      const sent: string[][] = [];
      const out = new LineCollector();
      const n = startSystemdNotifier({
        dispatcher: () => world.tenure?.dispatcher,
        notDispatching: () => world.lock,
        clock,
        logger: createLogger({ stream: out, level: 'info' }),
        env: { NOTIFY_SOCKET: '/fake' },
        command: async (args) => void sent.push(args),
      });
      const statuses = () => sent.filter((a) => a.some((x) => x.startsWith('--status='))).map((a) => a.find((x) => x.startsWith('--status='))!.slice('--status='.length));
      return { world, clock, sent, out, n, statuses };
    }

    it('a standby says READY=1 at once, with why it does not dispatch, and nothing after it says it is starting', async () => {
      const { clock, sent, n, statuses } = lockedNotifier();
      await clock.advance(30_000);
      await n.idle();
      assert.deepEqual(sent, [['--ready', '--status=not dispatching: waiting for the dispatch lock: another process holds it (10.0.0.5:5432)']]);
      assert.ok(!statuses().some((s) => s.startsWith('starting')));
      await n.stop();
    });

    it('follows each tenure: the lock\'s state between tenures, the current dispatcher\'s summary within one, never a stopped one\'s', async () => {
      const { world, clock, out, n, statuses } = lockedNotifier();
      /** The next tenure's dispatcher, already past its first poll and cloud list, with these VMs. */
      const readyTenure = (workers: Record<string, number>) => {
        const f = fakeDispatcher();
        Object.assign(f.state, { updated: 1, loaded: true });
        Object.assign(f.state.workers, workers);
        world.tenure = f;
        return f;
      };
      // Taken: the earlier holder's lease is waited out; then held, with a dispatcher that has not polled yet.
      world.lock = 'not dispatching yet: dispatch lock taken; waiting 5500 ms for any earlier holder\'s lease to run out';
      await clock.advance(5_000);
      world.lock = undefined;
      const first = fakeDispatcher();
      world.tenure = first;
      await clock.advance(5_000);
      Object.assign(first.state, { updated: 1, loaded: true });
      first.state.workers.running = 3;
      first.changed();
      await clock.advance(5_000);
      await n.idle();
      assert.match(out.lines.join('\n'), /ready: first queue poll and cloud instance list done/);
      // Lost: the first dispatcher stops, the lock is taken again, and a second dispatcher runs.
      world.lock = 'not dispatching: dispatch lock lost: the session ended; taking it again';
      world.tenure = undefined;
      await clock.advance(5_000);
      world.lock = undefined;
      const second = readyTenure({ idle: 1 });
      await clock.advance(5_000);
      await n.idle();
      assert.deepEqual(statuses(), [
        'not dispatching: waiting for the dispatch lock: another process holds it (10.0.0.5:5432)',
        'not dispatching yet: dispatch lock taken; waiting 5500 ms for any earlier holder\'s lease to run out',
        'starting: waiting for the first queue poll and cloud instance list',
        '0 containers, 3 VMs (3 running)',
        'not dispatching: dispatch lock lost: the session ended; taking it again',
        '0 containers, 1 VM (1 idle)',
      ]);
      assert.equal(first.listeners.length, 0, 'the first tenure\'s queue and pool are no longer listened to');
      // A tenure that ends and is followed by the next between two checks.
      const third = readyTenure({ booting: 2 });
      await clock.advance(5_000);
      await n.idle();
      assert.equal(statuses().at(-1), '0 containers, 2 VMs (2 booting)');
      assert.equal(second.listeners.length, 0);
      assert.equal(out.lines.filter((l) => l.includes('ready: first queue poll')).length, 3, 'one ready line per tenure');
      await n.stop();
      assert.equal(third.listeners.length, 0);
    });
  });
});
