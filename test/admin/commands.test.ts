/**
 * The admin commands in-process against the fake management API: what they
 * send, what they print, and the exit status for every kind of failure.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { AdminError, connectableURL, type ManagementTarget, targetsFromCluster, targetsFromConfig } from '../../src/admin/client.js';
import { type AdminContext, instanceAction, killContainer, listContainers, listInstances, whyContainer } from '../../src/admin/commands.js';
import { containersTable, instancesTable, renderTable, truncate } from '../../src/admin/format.js';
import { loadConfigText } from '../../src/config/index.js';
import { CONTAINERS, FakeManagementServer, INSTANCES, TOKEN, WHY_ITEM } from './fake-management.js';
import { createInFlightJSON } from '../fixtures/instance-views.js';

class Buffered extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

describe('admin commands (in-process, fake management API)', () => {
  let server: FakeManagementServer;
  let stdout: Buffered;
  let stderr: Buffered;
  const ctx = (target: Partial<ManagementTarget> = {}): AdminContext => ({
    config: '/nonexistent',
    stdout,
    stderr,
    target: { baseURL: server.url, token: TOKEN, insecure: false, ...target },
  });

  beforeEach(async () => {
    server = new FakeManagementServer();
    await server.start();
    stdout = new Buffered();
    stderr = new Buffered();
  });
  afterEach(() => server.stop());

  it('instances list: an aligned table, with the bearer token sent', async () => {
    assert.equal(await listInstances(ctx()), 0, stderr.text);
    assert.deepEqual(server.requests.map((r) => [r.method, r.path, r.authorization]), [['GET', '/arvados/v1/dispatch/instances', `Bearer ${TOKEN}`]]);
    const lines = stdout.text.trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^ID +TYPE +STATE +IDLE BEHAVIOR +PRICE +CONTAINERS +LAST BUSY +ADDRESS$/);
    // Every column starts at the same offset on every line.
    for (const col of ['TYPE', 'STATE', 'IDLE BEHAVIOR', 'PRICE', 'CONTAINERS', 'LAST BUSY']) {
      const at = lines[0]!.indexOf(col);
      for (const l of lines.slice(1)) assert.notEqual(l[at - 1], undefined);
      for (const l of lines.slice(1)) assert.equal(l.slice(at - 2, at), '  ', `column ${col} in ${JSON.stringify(l)}`);
    }
    assert.match(lines[1]!, /^lame-0000000001 +small +running +run +\$0\.10\/h +zzzzz-dz642-000000000000001 +2024-05-01T12:34:56Z +127\.0\.0\.1:40001$/);
    // The provider type shows when it differs; Go's zero time and an empty address show as "-".
    assert.match(lines[2]!, /^lame-0000000002-with-a-long-name +large \(m5\.4xlarge\) +booting +hold +\$0\.0116\/h +- +- +-$/);
  });

  it('instances list: a create in flight (empty instance id, as the reference lists it) shows as "(being created)"', async () => {
    server.instances = [createInFlightJSON({ name: 'small', price: 0.1 })];
    assert.equal(await listInstances(ctx()), 0, stderr.text);
    const lines = stdout.text.trimEnd().split('\n');
    assert.match(lines[1]!, /^\(being created\) +small +booting +run +\$0\.10\/h +- +- +-$/);
  });

  it("instances list: this daemon's own fields as COST and NOTE columns, only when the daemon sends them", async () => {
    server.instances = [
      { ...INSTANCES[0]!, cost: 1.23456, note: 'warm pool 0 (small)' },
      { ...INSTANCES[1]!, cost: 0.5, draining: { since: '2024-05-01T12:00:00Z', reason: 'running 1 of 8 VCPUs' } },
    ];
    assert.equal(await listInstances(ctx()), 0, stderr.text);
    const lines = stdout.text.trimEnd().split('\n');
    assert.match(lines[0]!, /  ADDRESS +COST +NOTE$/);
    assert.match(lines[1]!, /127\.0\.0\.1:40001 +\$1\.23 +warm pool 0 \(small\)$/);
    assert.match(lines[2]!, /  - +\$0\.50 +draining: running 1 of 8 VCPUs$/);
  });

  it('instances list --json: the raw items', async () => {
    assert.equal(await listInstances(ctx(), { json: true }), 0);
    assert.deepEqual(JSON.parse(stdout.text), INSTANCES);
  });

  for (const action of ['hold', 'drain', 'run'] as const) {
    it(`instances ${action}: POSTs the instance id`, async () => {
      assert.equal(await instanceAction(ctx(), action, 'lame-0000000001'), 0, stderr.text);
      assert.deepEqual(server.requests.map((r) => [r.method, r.path, r.query]), [
        ['POST', `/arvados/v1/dispatch/instances/${action}`, { instance_id: 'lame-0000000001' }],
      ]);
      assert.match(stdout.text, new RegExp(`lame-0000000001: idle behavior set to ${action}`));
    });
  }

  it('instances kill --reason: POSTs the id and the reason', async () => {
    assert.equal(await instanceAction(ctx(), 'kill', 'lame-0000000001', 'bad disk'), 0, stderr.text);
    assert.deepEqual(server.requests[0]!.query, { instance_id: 'lame-0000000001', reason: 'bad disk' });
    assert.match(stdout.text, /shutting down/);
  });

  it("an unknown instance: the server's error text after the ID that failed (the daemon's 404 does not name it), exit 1", async () => {
    assert.equal(await instanceAction(ctx(), 'hold', 'nope'), 1);
    assert.equal(stdout.text, '');
    assert.equal(stderr.text, 'arvados-dispatch-cloud: nope: POST /arvados/v1/dispatch/instances/hold: 404 Not Found: requested instance does not exist\n');
    stderr.text = '';
    assert.equal(await instanceAction(ctx(), 'kill', 'gone', 'old'), 1);
    assert.equal(stderr.text, 'arvados-dispatch-cloud: gone: POST /arvados/v1/dispatch/instances/kill: 404 Not Found: instance not found\n');
  });

  it('containers list: UUID, state, priority, type names, status cut to fit', async () => {
    assert.equal(await listContainers(ctx()), 0, stderr.text);
    const lines = stdout.text.trimEnd().split('\n');
    assert.match(lines[0]!, /^UUID +STATE +PRIORITY +INSTANCE TYPES +SCHEDULING STATUS$/);
    assert.match(lines[1]!, /^zzzzz-dz642-000000000000001 +Running +500 +small,m5\.4xlarge +-$/);
    assert.match(lines[2]!, /^zzzzz-dz642-000000000000002 +Queued +1 +huge +waiting for a cloud VM: .*…$/);
    assert.equal(lines[0]!.indexOf('STATE'), lines[2]!.indexOf('Queued'));
    assert.equal(lines[0]!.indexOf('SCHEDULING STATUS'), lines[2]!.indexOf('waiting'));
    assert.ok(lines[2]!.length < 160, 'the long status is truncated');
  });

  it('containers list --json: the raw items', async () => {
    assert.equal(await listContainers(ctx(), { json: true }), 0);
    assert.deepEqual(JSON.parse(stdout.text), CONTAINERS);
  });

  it('containers kill: POSTs the uuid and reason; one on no VM (404, also a queued or locked one) exits 1 saying so and what to do instead', async () => {
    assert.equal(await killContainer(ctx(), 'zzzzz-dz642-000000000000001', 'stuck'), 0, stderr.text);
    assert.deepEqual(server.requests[0]!.query, { container_uuid: 'zzzzz-dz642-000000000000001', reason: 'stuck' });
    // The fake's queue shows this one Locked (containers why finds it), yet the kill is a 404, as the daemon's.
    assert.equal(await killContainer(ctx(), WHY_ITEM.container.uuid), 1);
    assert.equal(stdout.text, 'zzzzz-dz642-000000000000001: kill requested\n');
    assert.equal(
      stderr.text,
      `arvados-dispatch-cloud: ${WHY_ITEM.container.uuid}: not running on any VM, so there is nothing to kill ` +
        '(a queued or locked container is not on a VM yet: cancel its container request instead)\n',
    );
  });

  it('a wrong token: 403 and the error text, exit 1', async () => {
    assert.equal(await listInstances(ctx({ token: 'wrong' })), 1);
    assert.match(stderr.text, /403 Forbidden: permission denied/);
  });

  it('an unreachable daemon: a clear message, exit 1', async () => {
    await server.stop();
    assert.equal(await listContainers(ctx()), 1);
    assert.match(stderr.text, /cannot reach the dispatcher at http:\/\/127\.0\.0\.1:\d+ \(is arvados-dispatch-cloud running\?.*ECONNREFUSED/);
  });

  it('containers why: the status, the blocker in words, what is ahead, the price cap and the timeline', async () => {
    assert.equal(await whyContainer(ctx(), WHY_ITEM.container.uuid), 0);
    const lines = stdout.text.trimEnd().split('\n');
    assert.deepEqual(lines, [
      'zzzzz-dz642-000000000000003  Locked, priority 500',
      `  status:   ${WHY_ITEM.scheduling_status}`,
      '  why:      every eligible instance type is at capacity: m5.large since 12:02:03 (retry at 12:03:03): InsufficientInstanceCapacity; ' +
        'm5.xlarge since 12:02:10 (retry at 12:03:10): InsufficientInstanceCapacity',
      '  ahead:    2 waiting containers that can use its instance types, needing 8 VCPUs and 32 GiB',
      '  price:    MaximumPriceFactor 1.5 leaves out m5.2xlarge (0.384/h, can be created), which could run it now',
      '  timeline:',
      '    12:00:00            first_seen',
      '    12:00:00      +0 s  locked',
      '    12:02:03    +2 min  vm_requested  instance_type=m5.large',
    ]);
    assert.deepEqual(
      server.requests.map((r) => [r.path, r.query.container_uuid]),
      [
        ['/arvados/v1/dispatch/container', WHY_ITEM.container.uuid],
        ['/arvados/v1/dispatch/container/timeline', WHY_ITEM.container.uuid],
      ],
    );
  });

  it('containers why: a container without a timeline still says why; one not in the queue is exit 1 with a clear message', async () => {
    assert.equal(await whyContainer(ctx(), CONTAINERS[0]!.container.uuid), 0);
    assert.equal(stdout.text, 'zzzzz-dz642-000000000000001  Running, priority 500\n');
    assert.equal(await whyContainer(ctx(), 'zzzzz-dz642-000000000000099'), 1);
    assert.match(stderr.text, /zzzzz-dz642-000000000000099: not in the dispatcher's queue/);
  });

  it('containers why and kill: a word that is no container UUID says so when the dispatcher knows no such container', async () => {
    assert.equal(await whyContainer(ctx(), 'nonsense'), 1);
    assert.match(stderr.text, /nonsense: not a container UUID \(they look like zzzzz-dz642-0123456789abcde\)\n$/);
    assert.equal(await killContainer(ctx(), 'zzzzz-xvhdp-000000000000001'), 1);
    assert.match(stderr.text, /zzzzz-xvhdp-000000000000001: not a container UUID \(they look like zzzzz-dz642-0123456789abcde\): that is a container request's; its container_uuid names its container\n$/);
  });

  it("instances list: the reference's empty list (items null) is an empty table", async () => {
    server.instances = null;
    assert.equal(await listInstances(ctx()), 0, stderr.text);
    assert.match(stdout.text, /^ID +TYPE +STATE/);
    assert.equal(stdout.text.trimEnd().split('\n').length, 1);
  });

  describe('several InternalURLs (dispatch hosts sharing the dispatch lock)', () => {
    let standby: FakeManagementServer;
    const LOCK = 'not dispatching: waiting for the dispatch lock: held by another process';
    beforeEach(async () => {
      standby = new FakeManagementServer();
      standby.standby = LOCK;
      await standby.start();
    });
    afterEach(() => standby.stop());
    const both = (first: string, second: string): AdminContext => ({
      config: '/nonexistent',
      stdout,
      stderr,
      targets: [first, second].map((baseURL) => ({ baseURL, token: TOKEN, insecure: false })),
    });

    it('asks the next when one is a standby (503) or unreachable, and uses the first that answers', async () => {
      assert.equal(await listInstances(both(standby.url, server.url)), 0, stderr.text);
      assert.match(stdout.text, /lame-0000000001/);
      assert.equal(standby.requests.length, 1);
      assert.equal(await instanceAction(both(standby.url, server.url), 'hold', 'lame-0000000001'), 0, stderr.text);
      assert.deepEqual(server.requests.at(-1)!.path, '/arvados/v1/dispatch/instances/hold');
      await standby.stop();
      assert.equal(await listContainers(both(standby.url, server.url)), 0, stderr.text);
      assert.equal(stderr.text, '');
    });

    it("asks the next for a container's status when one is a standby (its 404 says it is not dispatching); a standby's alone is no 'not in the queue'", async () => {
      assert.equal(await whyContainer(both(standby.url, server.url), WHY_ITEM.container.uuid), 0, stderr.text);
      assert.equal(standby.requests.length, 1);
      assert.match(stdout.text, new RegExp(WHY_ITEM.container.uuid));
      stdout = new Buffered();
      assert.equal(await whyContainer(both(standby.url, standby.url), WHY_ITEM.container.uuid), 1);
      assert.equal(stdout.text, '');
      assert.doesNotMatch(stderr.text, /not in the dispatcher's queue/);
      assert.match(stderr.text, new RegExp(`^arvados-dispatch-cloud: ${standby.url}: GET /arvados/v1/dispatch/container: 404 Not Found: container not found: ${LOCK}$`, 'm'));
    });

    it("takes any other answer as the dispatcher's word, and does not ask further", async () => {
      assert.equal(await instanceAction(both(server.url, standby.url), 'hold', 'nope'), 1);
      assert.equal(standby.requests.length, 0);
      assert.match(stderr.text, /^arvados-dispatch-cloud: nope: POST \/arvados\/v1\/dispatch\/instances\/hold: 404 Not Found: requested instance does not exist\n$/);
    });

    it('none answering: each says why, with its URL, exit 1', async () => {
      const other = new FakeManagementServer();
      other.standby = LOCK;
      await other.start();
      try {
        assert.equal(await listInstances(both(standby.url, other.url)), 1);
      } finally {
        await other.stop();
      }
      const lines = stderr.text.trimEnd().split('\n');
      assert.equal(lines.length, 2);
      assert.equal(lines[0], `arvados-dispatch-cloud: ${standby.url}: GET /arvados/v1/dispatch/instances: 503 Service Unavailable: ${LOCK}`);
      assert.equal(lines[1], `arvados-dispatch-cloud: ${other.url}: GET /arvados/v1/dispatch/instances: 503 Service Unavailable: ${LOCK}`);
    });
  });

  it('containers why --json: both answers as they came', async () => {
    assert.equal(await whyContainer(ctx(), WHY_ITEM.container.uuid, { json: true }), 0);
    const out = JSON.parse(stdout.text) as { container: unknown; timeline: { events: unknown[] } };
    assert.deepEqual(out.container, WHY_ITEM);
    assert.equal(out.timeline.events.length, 3);
  });
});

describe('admin target from config', () => {
  const cluster = (extra: string) =>
    loadConfigText(`
Clusters:
  zzzzz:
${extra}
`).cluster;

  it('takes every InternalURL, in config order, and the ManagementToken; a wildcard listen address becomes loopback', () => {
    const t = targetsFromCluster(
      cluster(`    ManagementToken: ${TOKEN}
    Services:
      DispatchCloud:
        InternalURLs:
          "http://0.0.0.0:9006/": {}
          "https://dispatch2.example:9006": {}`),
    );
    assert.deepEqual(t, [
      { baseURL: 'http://127.0.0.1:9006', token: TOKEN, insecure: false },
      { baseURL: 'https://dispatch2.example:9006', token: TOKEN, insecure: false },
    ]);
    assert.equal(connectableURL('https://[::]:9006'), 'https://[::1]:9006');
  });

  it("does not read Containers.DispatchPrivateKey: a key file this user or host cannot read does not stop the commands, as it does not stop the reference's", () => {
    const dir = mkdtempSync(join(tmpdir(), 'adc-admin-key-'));
    try {
      const config = join(dir, 'config.yml');
      writeFileSync(
        config,
        `Clusters:
  zzzzz:
    ManagementToken: ${TOKEN}
    Containers:
      DispatchPrivateKey: file://${join(dir, 'no-such-key')}
    Services:
      DispatchCloud:
        InternalURLs:
          "http://127.0.0.1:9006": {}
`,
      );
      assert.deepEqual(targetsFromConfig({ config }), [{ baseURL: 'http://127.0.0.1:9006', token: TOKEN, insecure: false }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the missing key, exit status 2', () => {
    assert.throws(
      () => targetsFromCluster(cluster(`    ManagementToken: ${TOKEN}`)),
      (e: unknown) => e instanceof AdminError && e.exitCode === 2 && /Clusters\.zzzzz\.Services\.DispatchCloud\.InternalURLs: empty/.test(e.message),
    );
    assert.throws(
      () =>
        targetsFromCluster(
          cluster(`    Services:
      DispatchCloud:
        InternalURLs:
          "http://127.0.0.1:9006": {}`),
        ),
      (e: unknown) => e instanceof AdminError && e.exitCode === 2 && /Clusters\.zzzzz\.ManagementToken: empty/.test(e.message),
    );
  });
});

describe('admin table helpers', () => {
  it('pads every column but the last, and trims trailing blanks', () => {
    assert.equal(renderTable(['A', 'BB', 'C'], [['xxx', '', ''], ['y', 'z', 'w']]), 'A    BB  C\nxxx\ny    z   w\n');
  });
  it('truncates with an ellipsis to the limit', () => {
    assert.equal(truncate('abcdef', 4), 'abc…');
    assert.equal(truncate('abcd', 4), 'abcd');
  });
  it('instances table: the first running container in full, then how many more', () => {
    const t = instancesTable([{ instance: 'i-1', running_container_uuids: ['zzzzz-dz642-000000000000001', 'zzzzz-dz642-000000000000002', 'zzzzz-dz642-000000000000003'] }]);
    assert.match(t.split('\n')[1]!, /\szzzzz-dz642-000000000000001 \+2(\s|$)/);
  });
  it("containers table: a type's Name before its ProviderType", () => {
    const t = containersTable([{ container: { uuid: 'u' }, instance_types: [{ Name: 'small', ProviderType: 'm5.large' }, { ProviderType: 'm5.xlarge' }] }]);
    assert.match(t.split('\n')[1]!, /\ssmall,m5\.xlarge(\s|$)/);
  });
  it('containers table: a line break in a field becomes a space, so a row stays one line', () => {
    const t = containersTable([{ container: { uuid: 'u', state: 'Queued' }, scheduling_status: 'waiting for\na VM' }]);
    assert.deepEqual(t.trimEnd().split('\n').slice(1), ['u     Queued  -         -               waiting for a VM']);
  });
  it('instances table: COST as soon as one instance has a cost, "-" for the others', () => {
    const t = instancesTable([{ instance: 'i-1', cost: 1.5 }, { instance: 'i-2' }]);
    const lines = t.trimEnd().split('\n');
    assert.match(lines[0]!, /\sCOST$/);
    assert.match(lines[1]!, /\s\$1\.50$/);
    assert.match(lines[2]!, /\s-$/);
  });
});
