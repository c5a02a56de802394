/**
 * The admin commands and the systemd readiness gate against a real
 * dispatcher: the test controller, the lame cloud, and the management server
 * the daemon runs (built by the management API tests' `startStack`).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { ManagementTarget } from '../../src/admin/client.js';
import { type AdminContext, instanceAction, killContainer, listContainers, listInstances, whyContainer } from '../../src/admin/commands.js';
import type { InstanceItem } from '../../src/admin/format.js';
import { readinessGate, startSystemdNotifier } from '../../src/admin/sd-notify.js';
import { systemClock } from '../../src/clock/index.js';
import { FakeNotifySocket, have } from '../systemd/fake-notify-socket.js';
import { type Stack, startStack, until } from '../http/helpers.js';

class Buffered extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

describe('admin commands against a real dispatcher (lame cloud)', function () {
  this.timeout(30_000);
  let stack: Stack;
  let target: ManagementTarget;

  before(async () => {
    stack = await startStack();
    target = { baseURL: stack.server.url, token: stack.token, insecure: false };
  });
  after(() => stack?.stop());

  /** Runs one command; returns its exit status and output. */
  async function cli(fn: (ctx: AdminContext) => Promise<number>, token = stack.token): Promise<{ code: number; out: string; err: string }> {
    const stdout = new Buffered();
    const stderr = new Buffered();
    const code = await fn({ config: '/nonexistent', stdout, stderr, target: { ...target, token } });
    return { code, out: stdout.text, err: stderr.text };
  }

  const instances = async (): Promise<InstanceItem[]> => {
    const r = await cli((ctx) => listInstances(ctx, { json: true }));
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as InstanceItem[];
  };

  it('the readiness gate opens after the first poll and cloud list', async () => {
    const gate = readinessGate(stack.dispatcher);
    await until('ready', () => gate.isReady());
    assert.match(gate.summary(), /^\d+ containers?.*, \d+ VMs?/);
  });

  it('the systemd notifier, wired as the daemon wires it, sends READY=1 and the status through systemd-notify', async function () {
    if (!have('systemd-notify') || !have('python3')) this.skip();
    const sock = new FakeNotifySocket();
    await sock.start();
    try {
      const n = startSystemdNotifier({
        dispatcher: stack.dispatcher,
        clock: systemClock,
        logger: stack.dispatcher.logger,
        env: { ...process.env, NOTIFY_SOCKET: sock.path },
      });
      await until('READY=1', () => sock.lines().includes('READY=1'));
      assert.match(sock.lines().join('\n'), /READY=1\nSTATUS=\d+ containers?.*, \d+ VMs?/);
      await n.stop();
      await until('STOPPING=1', () => sock.lines().includes('STOPPING=1'));
    } finally {
      sock.stop();
    }
  });

  it('lists containers and instances, holds, drains, runs and kills an instance, kills a container', async () => {
    const c = stack.controller.addContainer({ priority: 5 });
    await until('the container in the dispatcher queue', async () => {
      const r = await cli((ctx) => listContainers(ctx));
      return r.code === 0 && r.out.includes(c.uuid);
    });
    const table = (await cli((ctx) => listContainers(ctx))).out;
    assert.match(table, /^UUID +STATE +PRIORITY +INSTANCE TYPES +SCHEDULING STATUS\n/);
    assert.match(table, new RegExp(`${c.uuid} +(Queued|Locked|Running) +5 +small`));

    // A create in flight is listed first with no id and no cost yet: wait for the VM itself.
    const listed = async () => (await instances()).find((i) => !!i.instance && typeof i.cost === 'number');
    await until('a VM in the instance list', async () => (await listed()) !== undefined);
    const id = (await listed())!.instance!;
    const list = await cli((ctx) => listInstances(ctx));
    // This daemon sends what each VM has cost so far: the COST column.
    assert.match(list.out, /^ID +TYPE +STATE +IDLE BEHAVIOR +PRICE +CONTAINERS +LAST BUSY +ADDRESS +COST\n/);
    assert.match(list.out, new RegExp(`${id} +small +\\w+ +run +\\$0\\.10\\/h .* \\$\\d+\\.\\d\\d\\n`));

    assert.equal((await cli((ctx) => instanceAction(ctx, 'hold', id))).code, 0);
    assert.equal((await instances()).find((i) => i.instance === id)?.idle_behavior, 'hold');
    assert.equal((await cli((ctx) => instanceAction(ctx, 'run', id))).code, 0);
    assert.equal((await instances()).find((i) => i.instance === id)?.idle_behavior, 'run');

    // While the VM runs the container, drain keeps it (busy) and marks it; run takes that back.
    await until('the container Running', () => stack.controller.get(c.uuid)?.state === 'Running');
    assert.equal((await cli((ctx) => instanceAction(ctx, 'drain', id))).code, 0, 'drain');
    assert.equal((await instances()).find((i) => i.instance === id)?.idle_behavior, 'drain');
    assert.equal((await cli((ctx) => instanceAction(ctx, 'run', id))).code, 0);

    // A container running on a VM is killed through the CLI and ends Cancelled.
    assert.equal((await cli((ctx) => killContainer(ctx, c.uuid, 'admin test'))).code, 0, 'containers kill');
    await until('the container Cancelled', () => stack.controller.get(c.uuid)?.state === 'Cancelled');

    // Killing a container that runs nowhere is the server's 404, said as what it means.
    const gone = await cli((ctx) => killContainer(ctx, 'zzzzz-dz642-aaaaaaaaaaaaaaa', 'test'));
    assert.equal(gone.code, 1);
    assert.match(gone.err, /zzzzz-dz642-aaaaaaaaaaaaaaa: not running on any VM/);

    // The server's 404 does not name the instance; the command does.
    const unknown = await cli((ctx) => instanceAction(ctx, 'drain', 'no-such-instance'));
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /no-such-instance: POST \/arvados\/v1\/dispatch\/instances\/drain: 404 Not Found: requested instance does not exist/);

    assert.equal((await cli((ctx) => instanceAction(ctx, 'kill', id, 'admin test'))).code, 0, 'kill');
    await until('the VM gone or shutting down', async () => {
      const inst = (await instances()).find((i) => i.instance === id);
      return inst === undefined || inst.worker_state === 'shutdown';
    });
  });

  it('containers why: the blocker while it waits, in words, then the timeline of its start', async () => {
    // Every VM there is held, so the container waits for a new one to boot (100-300 ms, probed every 200 ms): long enough to see.
    for (const i of await instances()) if (i.instance) await cli((ctx) => instanceAction(ctx, 'hold', i.instance!));
    const c = stack.controller.addContainer({ priority: 7 });
    const reasons = new Set<string>();
    let last: { container: { blocker?: { reason: string; summary?: string } }; timeline: { events: Array<{ kind: string }> } | null } | undefined;
    await until('the container Running or finished', async () => {
      const r = await cli((ctx) => whyContainer(ctx, c.uuid, { json: true }));
      if (r.code === 0) {
        last = JSON.parse(r.out) as typeof last;
        const b = last!.container.blocker;
        if (b) {
          reasons.add(b.reason);
          assert.ok(b.summary && b.summary.length > 10, `a summary for ${b.reason}`);
        }
      }
      return ['Running', 'Complete'].includes(stack.controller.get(c.uuid)?.state ?? '');
    });
    assert.ok(reasons.size > 0, 'seen waiting at least once');
    for (const r of reasons) assert.ok(['locking', 'booting', 'preparing', 'cluster_capacity'].includes(r), `reason ${r}`);
    const kinds = last?.timeline?.events.map((e) => e.kind) ?? [];
    assert.deepEqual(kinds.slice(0, 2), ['first_seen', 'locked']);
    const text = await cli((ctx) => whyContainer(ctx, c.uuid));
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, new RegExp(`^${c.uuid}  \\w+, priority 7\\n`));
    assert.match(text.out, /\n  timeline:\n .*first_seen/);
  });

  it('a wrong token is refused with the server error, exit 1', async () => {
    const r = await cli((ctx) => listInstances(ctx), 'wrongtoken');
    assert.equal(r.code, 1);
    assert.match(r.err, /instances: 40[13]/);
  });
});
