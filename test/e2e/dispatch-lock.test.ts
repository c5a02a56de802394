/**
 * One dispatcher at a time, end to end: two real daemon processes against
 * one controller (in this process), one lame cloud (its own process) and one
 * PostgreSQL server (a throwaway cluster). Only the holder of the dispatch
 * lock acts; the other waits. The active one is SIGKILLed, the database is
 * restarted under the next, and that one is stopped with SIGTERM; each time
 * the other takes over, adopting VMs and running containers.
 *
 * Every action a daemon takes passes its fence, which logs it ("dispatch
 * action", with Action and what it acted on): the intervals during which
 * each process acted, read from the two logs, must never overlap.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LameCloudAdmin } from '../../drivers/lame/chaos-client.js';
import { createLogger } from '../../src/log.js';
import { generateSshKeyPair } from '../../src/ssh/keys.js';
import { TestController } from '../fixtures/controller.js';
import { type PostgresConnection, TestPostgres } from '../fixtures/postgres.js';
import { DaemonProcess, logRecords, sleep, tail, waitUntil } from './chaos-helpers.js';
import { daemonConfigHead, lameContainersHead } from '../fixtures/daemon-config.js';

const GiB = 1 << 30;

function configYAML(o: { rootToken: string; controllerURL: string; cloudURL: string; privateKey: string; pg: PostgresConnection }): string {
  const conn = Object.entries(o.pg).map(([k, v]) => `        ${k}: "${v}"`).join('\n');
  return `${daemonConfigHead({ rootToken: o.rootToken, controllerURL: o.controllerURL })}    SystemLogs:
      LogLevel: info
    PostgreSQL:
      Connection:
${conn}
${lameContainersHead(o)}          MinBootTime: 200ms
          MaxBootTime: 500ms
        MaxInstances: 8
        PollInterval: 500ms
        ProbeInterval: 500ms
        SyncInterval: 1s
        MaxProbesPerSecond: 1000
        MaxCloudOpsPerSecond: 1000
        TimeoutIdle: 2s
        TimeoutShutdown: 2s
        TimeoutSignal: 1s
    InstanceTypes:
      c2:
        ProviderType: lame.c2
        VCPUs: 2
        RAM: 10GiB
        IncludedScratch: 100GB
        Price: 0.03
`;
}

/** When a process acted: from its first to its last fenced action of one tenure of the lock. */
interface ActingInterval {
  who: string;
  from: number;
  to: number;
  actions: number;
}

function actingIntervals(d: DaemonProcess): ActingInterval[] {
  const out: ActingInterval[] = [];
  let cur: ActingInterval | undefined;
  for (const r of d.records()) {
    const at = Date.parse(String(r.time));
    if (r.msg === 'holding the dispatch lock: dispatching') {
      if (cur) out.push(cur);
      cur = undefined;
    } else if (r.msg === 'dispatch action') {
      cur ??= { who: d.name, from: at, to: at, actions: 0 };
      cur.to = at;
      cur.actions++;
    }
  }
  if (cur) out.push(cur);
  return out;
}

function firstAt(d: DaemonProcess, msg: string, after = 0): number | undefined {
  for (const r of d.records()) {
    const at = Date.parse(String(r.time));
    if (r.msg === msg && at >= after) return at;
  }
  return undefined;
}

describe('dispatch lock end to end: two daemons, one PostgreSQL', function () {
  this.timeout(150_000);
  const pgServer = new TestPostgres();
  let dir: string;
  let controller: TestController;
  let controllerStream: WriteStream;
  let cloud: DaemonProcess | undefined;
  let admin: LameCloudAdmin;
  let config: string;
  let passed = false;
  const daemons: DaemonProcess[] = [];
  const killAll = (): void => {
    for (const d of daemons) d.killNow();
    cloud?.killNow();
  };
  const logs = (): string =>
    [`logs in ${dir}:`, ...daemons.map((d) => `--- ${d.name}\n${tail(d.logPath, 20)}`), `--- lame cloud\n${tail(join(dir, 'lame-cloud.log'), 10)}`].join('\n');

  function startDaemon(): DaemonProcess {
    const d = new DaemonProcess(`dispatcher-${daemons.length + 1}`, ['--config', config], join(dir, `dispatcher-${daemons.length + 1}.log`));
    daemons.push(d);
    return d;
  }

  before(async function () {
    this.timeout(60_000);
    process.on('exit', killAll);
    dir = mkdtempSync(join(tmpdir(), 'arvados-dispatch-cloud-lock-'));
    await pgServer.start();
    const rootToken = randomBytes(32).toString('hex');
    controllerStream = createWriteStream(join(dir, 'controller.log'));
    controller = new TestController({ rootToken, logger: createLogger({ level: 'info', stream: controllerStream }) });
    await controller.start();
    const common = { rootToken, controllerURL: controller.url, privateKey: generateSshKeyPair().private, pg: pgServer.connection };
    const cloudConfig = join(dir, 'lame-cloud.yml');
    writeFileSync(cloudConfig, configYAML({ ...common, cloudURL: 'http://127.0.0.1:0' }));
    cloud = new DaemonProcess('lame-cloud', ['lame-cloud', '--config', cloudConfig], join(dir, 'lame-cloud.log'));
    let url: string | undefined;
    await waitUntil('the lame cloud to listen', () => {
      assert.ok(cloud!.running, `lame-cloud exited: ${tail(cloud!.logPath)}`);
      url = logRecords(cloud!.logPath).find((r) => r.msg === 'lame cloud listening')?.URL as string | undefined;
      return url !== undefined;
    }, 20_000, 50);
    admin = new LameCloudAdmin(url!);
    config = join(dir, 'dispatcher.yml');
    writeFileSync(config, configYAML({ ...common, cloudURL: url! }));
  });

  after(async function () {
    this.timeout(60_000);
    for (const d of daemons) await d.stop('SIGTERM', 10_000);
    await cloud?.stop('SIGTERM', 5_000);
    await controller?.stop();
    await new Promise<void>((resolve) => (controllerStream ? controllerStream.end(resolve) : resolve()));
    await pgServer.destroy();
    process.off('exit', killAll);
    if (passed && dir && !process.env.CHAOS_KEEP_LOGS) rmSync(dir, { recursive: true, force: true });
  });

  it('only the lock holder acts; SIGKILL, a database restart and SIGTERM each hand over without overlap, cancelling nothing and leaking no VM', async () => {
    const report: string[] = [];
    const uuids: string[] = [];
    const submit = (n: number, seconds: number): void => {
      for (let i = 0; i < n; i++) {
        uuids.push(controller.addContainer({ command: ['sleep', String(seconds)], priority: 1, runtime_constraints: { ram: GiB, vcpus: 1 } }).uuid);
      }
    };
    const holding = (d: DaemonProcess, after: number): boolean => firstAt(d, 'holding the dispatch lock: dispatching', after) !== undefined;
    const active = async (candidates: DaemonProcess[], after: number, timeoutMs: number): Promise<DaemonProcess> => {
      let found: DaemonProcess | undefined;
      await waitUntil('a daemon to hold the lock and dispatch', () => (found = candidates.find((d) => d.running && holding(d, after))) !== undefined, timeoutMs, 100, logs);
      return found!;
    };
    const running = (): number => uuids.filter((u) => controller.get(u)!.state === 'Running').length;

    // ---- two daemons: one dispatches, the other waits, naming the holder.
    submit(4, 6);
    const a = startDaemon();
    const first = await active([a], 0, 20_000);
    const b = startDaemon();
    await waitUntil('the second daemon to wait for the lock', () => b.records().some((r) => r.msg === 'waiting for other process to release lock'), 20_000, 100, logs);
    const holderRecord = b.records().find((r) => r.msg === 'waiting for other process to release lock')!;
    assert.match(String(holderRecord.DBClient), /^127\.0\.0\.1:\d+$/, 'the waiting daemon names the holder as address:port');
    await waitUntil('containers to run', () => running() > 0, 30_000, 100, logs);

    // ---- SIGKILL the active one: the other takes over, adopting its VMs and containers.
    const killedAt = Date.now();
    await first.stop('SIGKILL', 5_000);
    const second = await active([b], killedAt, 15_000);
    const killTakeover = firstAt(second, 'holding the dispatch lock: dispatching', killedAt)! - killedAt;
    report.push(`SIGKILL -> other dispatching after ${killTakeover} ms`);
    assert.ok(killTakeover <= 10_000, `took over ${killTakeover} ms after SIGKILL\n${logs()}`);
    const c = startDaemon();
    submit(3, 4);

    // ---- a database restart under the active one: nobody acts until the lock is held again.
    await waitUntil('the third daemon to wait', () => c.records().some((r) => r.msg === 'waiting for other process to release lock'), 20_000, 100, logs);
    const restartAt = Date.now();
    await pgServer.stopServer('fast');
    await sleep(1_000);
    await pgServer.startServer();
    const third = await active([second, c], restartAt, 20_000);
    report.push(`database restart -> ${third.name} dispatching after ${firstAt(third, 'holding the dispatch lock: dispatching', restartAt)! - restartAt} ms`);
    submit(3, 3);
    await waitUntil('containers to run again', () => running() > 0, 30_000, 100, logs);

    // ---- SIGTERM the active one: it releases the lock at once.
    const standby = third === c ? second : c;
    const termAt = Date.now();
    const { exit, timedOut } = await third.stop('SIGTERM', 15_000);
    assert.ok(!timedOut && exit.code === 0, `${third.name} exited ${JSON.stringify(exit)} after SIGTERM\n${logs()}`);
    const fourth = await active([standby], termAt, 15_000);
    const acquired = firstAt(fourth, 'acquired the dispatch lock; waiting out any earlier holder before dispatching', termAt)! - termAt;
    const termTakeover = firstAt(fourth, 'holding the dispatch lock: dispatching', termAt)! - termAt;
    report.push(`SIGTERM -> lock taken by the other after ${acquired} ms, dispatching after ${termTakeover} ms`);
    assert.ok(acquired <= 4_000, `lock taken ${acquired} ms after SIGTERM\n${logs()}`);
    assert.ok(termTakeover <= 10_000, `took over ${termTakeover} ms after SIGTERM\n${logs()}`);

    // ---- every container completes, and the cloud empties.
    await waitUntil('every container to finish', () => uuids.every((u) => ['Complete', 'Cancelled'].includes(controller.get(u)!.state)), 60_000, 200, () =>
      `${uuids.map((u) => controller.get(u)!.state).join(',')}\n${logs()}`,
    );
    let left: string[] = [];
    await waitUntil('the lame cloud to list no VM', async () => (left = (await admin.vms()).map((v) => v.id)).length === 0, 30_000, 250, () => `left: ${left}\n${logs()}`);

    // ---- the verdict.
    const problems: string[] = [];
    for (const u of uuids) {
      const ctr = controller.get(u)!;
      if (ctr.state !== 'Complete') problems.push(`${u} ended ${ctr.state}: ${JSON.stringify(ctr.runtime_status)}`);
      const runs = controller.history(u).filter((h) => h.state === 'Running').length;
      if (runs !== 1) problems.push(`${u} went Running ${runs} times`);
    }
    const intervals = daemons.flatMap(actingIntervals).sort((x, y) => x.from - y.from);
    for (let i = 1; i < intervals.length; i++) {
      const [p, q] = [intervals[i - 1], intervals[i]];
      if (q.from <= p.to) problems.push(`${p.who} acted until ${new Date(p.to).toISOString()} but ${q.who} from ${new Date(q.from).toISOString()}`);
    }
    report.push(
      ...intervals.map((v) => `${v.who}: ${v.actions} actions ${new Date(v.from).toISOString()} .. ${new Date(v.to).toISOString()}`),
    );
    console.log(report.map((l) => `      ${l}`).join('\n'));
    assert.deepEqual(problems, [], `${report.join('\n')}\n${logs()}`);
    assert.ok(new Set(intervals.map((v) => v.who)).size >= 3, `three daemons acted in turn:\n${report.join('\n')}`);
    passed = true;
  });
});
