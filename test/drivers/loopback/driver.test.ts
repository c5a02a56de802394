/**
 * The loopback driver: one instance, this host, reached over a real SSH
 * server whose commands run here through `sh -c`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { isQuotaError } from '../../../src/cloud/errors.js';
import type { Instance } from '../../../src/cloud/types.js';
import { createLogger, LineCollector } from '../../../src/log.js';
import { SshExecutor } from '../../../src/ssh/ssh-executor.js';
import { loopbackDriver, LoopbackInstanceSet, noNewPrivileges } from '../../../drivers/loopback/index.js';
import { generateHostKey } from '../../../drivers/lame/sshd.js';
import { sshExec } from '../../fixtures/ssh-exec.js';
import { createArgs, DISPATCH_KEY, dispatcherExecutor, instanceType, makeCluster, makeContext } from '../lame/helpers.js';

const LOCALHOST = instanceType('localhost');

describe('loopback driver', function () {
  this.timeout(20_000);
  let dir: string;
  let set: LoopbackInstanceSet;
  const executors: SshExecutor[] = [];

  const executor = (inst: Instance): SshExecutor => {
    const ex = dispatcherExecutor(inst);
    executors.push(ex);
    return ex;
  };
  const create = async (): Promise<Instance> => {
    const { tags, init } = createArgs('loopback-test', 'localhost');
    return set.create(LOCALHOST, 'image-ignored', tags, init, DISPATCH_KEY.public);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'loopback-test-'));
    set = new LoopbackInstanceSet(makeContext(), { username: userInfo().username, brokenFlagPath: join(dir, 'crunch-run-broken') });
  });

  afterEach(() => {
    for (const ex of executors.splice(0)) ex.close();
    set.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('create starts one instance: this host, named by its provider type, as the dispatcher user', async () => {
    const { tags, init } = createArgs('loopback-test', 'localhost');
    const inst = await set.create(LOCALHOST, 'image-ignored', tags, init, DISPATCH_KEY.public);
    assert.equal(inst.id, 'localhost');
    assert.equal(inst.providerType, 'localhost');
    assert.equal(inst.remoteUser, userInfo().username);
    assert.match(inst.address, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(inst.tags, tags);
    const listed = await set.instances({});
    assert.deepEqual(
      listed.map((i) => [i.id, i.address]),
      [[inst.id, inst.address]],
    );
  });

  it('a second create fails with QuotaError while the instance exists', async () => {
    await create();
    const err = await create().then(
      () => assert.fail('the second create should fail'),
      (e: unknown) => e,
    );
    assert.ok(isQuotaError(err), `expected a QuotaError, got ${String(err)}`);
    assert.equal((await set.instances({})).length, 1);
  });

  it('destroy removes the instance from the list and closes its SSH server; then one more create works', async () => {
    const inst = await create();
    const ex = executor(inst);
    assert.equal((await ex.execute('true')).exitCode, 0);
    await inst.destroy();
    assert.deepEqual(await set.instances({}), []);
    await assert.rejects(sshExec(inst.address, DISPATCH_KEY.private, 'true'));
    await inst.destroy(); // again: not an error
    const next = await create();
    assert.equal((await set.instances({})).length, 1);
    assert.notEqual(next.address, '');
  });

  it('runs commands on this host through sh, passing back stdout, stderr and the exit status', async () => {
    const ex = executor(await create());
    const ok = await ex.execute('echo ok');
    assert.deepEqual([ok.stdout.toString(), ok.stderr.toString(), ok.exitCode], ['ok\n', '', 0]);
    const fail = await ex.execute('echo fail && printf fail2 >&2 && exit 3');
    assert.deepEqual([fail.stdout.toString(), fail.stderr.toString(), fail.exitCode], ['fail\n', 'fail2', 3]);
    const file = join(dir, 'made-by-ssh');
    await ex.execute(`touch ${file}`);
    assert.ok(existsSync(file), 'the command ran on this host');
  });

  it('drops a leading sudo: commands run as the dispatcher user', async () => {
    // A sudo of our own first in PATH shows whether the word reached the shell.
    const fakeSudo = join(dir, 'sudo');
    writeFileSync(fakeSudo, '#!/bin/sh\necho via-sudo\n', { mode: 0o755 });
    const inst = await create();
    const env = { PATH: `${dir}:${process.env.PATH}` };
    const r = await sshExec(inst.address, DISPATCH_KEY.private, 'sudo id -un', { env });
    assert.deepEqual(r, { code: 0, stdout: `${userInfo().username}\n` });
    const inner = await sshExec(inst.address, DISPATCH_KEY.private, 'echo x && sudo id -un', { env });
    assert.equal(inner.stdout, 'x\nvia-sudo\n', 'only a leading sudo is dropped');
  });

  it('streams stdin to the command and its output back, all of it before the exit status', async () => {
    const ex = executor(await create());
    const big = Buffer.alloc(3 << 20, 'abcdefghij');
    const r = await ex.execute('cat; cat /dev/null >&2', { stdin: big });
    assert.equal(r.exitCode, 0);
    assert.ok(r.stdout.equals(big), `stdout has ${r.stdout.length} of ${big.length} bytes`);
    const err = await ex.execute('head -c 1000000 /dev/zero >&2; exit 4');
    assert.deepEqual([err.stderr.length, err.exitCode], [1_000_000, 4]);
  });

  it('sets the variables of SSH env requests for the command', async () => {
    const inst = await create();
    const r = await sshExec(inst.address, DISPATCH_KEY.private, 'printf %s "$LOOPBACK_TEST_VAR"', { env: { LOOPBACK_TEST_VAR: 'from-env' } });
    assert.deepEqual(r, { code: 0, stdout: 'from-env' });
  });

  it('reports a command ended by a signal as the signal', async () => {
    const ex = executor(await create());
    const r = await ex.execute('kill -TERM $$');
    assert.equal(r.exitCode, 128 + 15);
  });

  it('runs each command in a session of its own, away from the dispatcher terminal', async () => {
    const ex = executor(await create());
    const r = await ex.execute("echo $$; cut -d' ' -f6 /proc/$$/stat");
    const [pid, sid] = r.stdout.toString().trim().split('\n');
    assert.equal(sid, pid, 'the shell leads its own session');
  });

  it('refuses keys other than the one given to create', async () => {
    const inst = await create();
    const stranger = new SshExecutor({
      target: inst.address,
      username: inst.remoteUser,
      privateKey: generateHostKey().private,
      verifyHostKey: async () => undefined,
      connectTimeoutMs: 5000,
      commandTimeoutMs: 5000,
    });
    executors.push(stranger);
    await assert.rejects(stranger.execute('true'), /auth/i);
  });

  it("verifyHostKey accepts the instance's own host key and nothing else", async () => {
    const inst = await create();
    let seen: Buffer | undefined;
    const ex = new SshExecutor({
      target: inst.address,
      username: inst.remoteUser,
      privateKey: DISPATCH_KEY.private,
      verifyHostKey: async (key, untrusted) => {
        seen = key;
        await inst.verifyHostKey(key, untrusted);
      },
      connectTimeoutMs: 5000,
      commandTimeoutMs: 5000,
    });
    executors.push(ex);
    assert.equal((await ex.execute('true')).exitCode, 0);
    assert.ok(seen);
    const other = Buffer.from(seen);
    other[other.length - 1] ^= 1;
    await assert.rejects(inst.verifyHostKey(other, ex), /host key mismatch/);
  });

  it('create removes the crunch-run broken flag a previous instance left', async () => {
    const flag = join(dir, 'crunch-run-broken');
    writeFileSync(flag, '');
    await create();
    assert.equal(existsSync(flag), false);
  });

  it('says at info that it removed the broken flag, with its path, and says nothing when there was none', async () => {
    const lines = new LineCollector();
    const flag = join(dir, 'flag-to-log');
    const own = new LoopbackInstanceSet({ ...makeContext(), logger: createLogger({ stream: lines, level: 'debug' }) }, { username: userInfo().username, brokenFlagPath: flag });
    try {
      const { tags, init } = createArgs('loopback-test', 'localhost');
      const first = await own.create(LOCALHOST, 'image-ignored', tags, init, DISPATCH_KEY.public);
      assert.deepEqual(lines.records().map((r) => r.msg), [], 'no flag, no line');
      await first.destroy();
      writeFileSync(flag, '');
      await own.create(LOCALHOST, 'image-ignored', tags, init, DISPATCH_KEY.public);
      assert.deepEqual(
        lines.records().map((r) => [r.level, r.msg]),
        [['info', `removed ${flag}`]],
      );
    } finally {
      own.stop();
    }
  });

  it('stop closes the SSH server', async () => {
    const inst = await create();
    set.stop();
    await assert.rejects(sshExec(inst.address, DISPATCH_KEY.private, 'true'));
    await assert.rejects(create(), /after stop/);
  });

  describe('factory', () => {
    it('refuses DeployPublicKey: false, naming the key', async () => {
      const cluster = makeCluster();
      cluster.Containers.CloudVMs.DeployPublicKey = false;
      await assert.rejects(async () => loopbackDriver({}, makeContext({ cluster })), /Containers\.CloudVMs\.DeployPublicKey: must be true/);
    });

    it('tells a process that may gain no privileges (a sandbox drop-in, where its crunch-run would fail) from one that may', function () {
      const status = (argv: string[]): string => {
        const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
        if (r.error || r.status !== 0) this.skip(); // no setpriv here
        return r.stdout;
      };
      assert.equal(noNewPrivileges(() => status(['setpriv', '--no-new-privs', 'cat', '/proc/self/status'])), true);
      assert.equal(noNewPrivileges(() => status(['cat', '/proc/self/status'])), /^NoNewPrivs:\s*1/m.test(readFileSync('/proc/self/status', 'utf8')));
      assert.equal(noNewPrivileges(() => { throw new Error('ENOENT'); }), false, 'no /proc: not known, so no error logged');
    });

    it('ignores DriverParameters, with a warning', async () => {
      const lines = new LineCollector();
      const ctx = { ...makeContext(), logger: createLogger({ stream: lines, level: 'info' }) };
      const built = await loopbackDriver({ AccessKeyID: 'x' }, ctx);
      built.stop();
      assert.ok(lines.records().some((r) => r.level === 'warning' && /takes no DriverParameters/.test(String(r.msg))));
    });
  });

  it('of two creates at once, one fails with QuotaError', async () => {
    const results = await Promise.allSettled([create(), create()]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const failed = results.find((r) => r.status === 'rejected');
    assert.ok(isQuotaError(failed?.reason), `expected a QuotaError, got ${String(failed?.reason)}`);
    assert.equal((await set.instances({})).length, 1);
  });

  it('refuses to create without a public key, and leaves the host free', async () => {
    const { tags, init } = createArgs('loopback-test', 'localhost');
    await assert.rejects(set.create(LOCALHOST, 'image-ignored', tags, init, ' \n'), /no public key/);
    assert.deepEqual(await set.instances({}), []);
    await create();
  });

  it('a create that fails leaves the host free for the next', async () => {
    const flag = mkdtempSync(join(dir, 'flag-')); // a directory: unlink fails
    const own = new LoopbackInstanceSet(makeContext(), { username: userInfo().username, brokenFlagPath: flag });
    try {
      const { tags, init } = createArgs('loopback-test', 'localhost');
      await assert.rejects(own.create(LOCALHOST, 'image-ignored', tags, init, DISPATCH_KEY.public), /EISDIR|EPERM/);
      rmSync(flag, { recursive: true });
      await own.create(LOCALHOST, 'image-ignored', tags, init, DISPATCH_KEY.public);
      assert.equal((await own.instances({})).length, 1);
    } finally {
      own.stop();
    }
  });

  it('keeps its own copy of the tags: later changes to the objects given or returned do not reach it', async () => {
    const { tags, init } = createArgs('loopback-test', 'localhost');
    const given = { ...tags };
    const inst = await set.create(LOCALHOST, 'image-ignored', given, init, DISPATCH_KEY.public);
    given.extra = 'given';
    (inst.tags as Record<string, string>).extra = 'returned';
    const [listed] = await set.instances({});
    assert.deepEqual(listed!.tags, tags);
  });

  it('a command that exits without reading its stdin still reports its exit status', async () => {
    const ex = executor(await create());
    const r = await ex.execute('exit 5', { stdin: Buffer.alloc(4 << 20) });
    assert.equal(r.exitCode, 5);
  });

  it('forgets each command once it has ended', async () => {
    const ex = executor(await create());
    for (let i = 0; i < 3; i++) await ex.execute('true');
    assert.equal((set as unknown as { children: Set<unknown> }).children.size, 0, 'ended commands are still held');
  });

  it('reports a signal SSH cannot name as 128 plus its number', async () => {
    const ex = executor(await create());
    const r = await ex.execute('kill -BUS $$');
    assert.equal(r.exitCode, 128 + 7);
  });

  it('stop lets go of a command still running, so it no longer keeps this process alive', async () => {
    const inst = await create();
    const pidFile = join(dir, 'pid');
    void sshExec(inst.address, DISPATCH_KEY.private, `echo $$ > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile} && exec sleep 30`).catch(() => undefined);
    while (!existsSync(pidFile)) await new Promise((resolve) => setTimeout(resolve, 20));
    const processes = (): number => process.getActiveResourcesInfo().filter((r) => r === 'ProcessWrap').length;
    const before = processes();
    try {
      set.stop();
      assert.equal(processes(), before - 1, 'the running command still holds the event loop');
    } finally {
      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    }
  });

  it('runs commands in the dispatcher\'s environment', async () => {
    const inst = await create();
    const r = await sshExec(inst.address, DISPATCH_KEY.private, 'printf %s "$HOME"');
    assert.deepEqual(r, { code: 0, stdout: process.env.HOME ?? '' });
  });

  it('names the instance and its provider type by the type\'s ProviderType, not its name', async () => {
    const { tags, init } = createArgs('loopback-test', 'local');
    const inst = await set.create(instanceType('local', 'localhost'), 'image-ignored', tags, init, DISPATCH_KEY.public);
    const [listed] = await set.instances({});
    assert.deepEqual([inst.id, inst.providerType, listed!.id, listed!.providerType], ['localhost', 'localhost', 'localhost', 'localhost']);
  });

  it('sends the signal that ended a command as SSH exit-signal, with no exit status', async () => {
    const inst = await create();
    const r = await sshExec(inst.address, DISPATCH_KEY.private, 'kill -TERM $$');
    assert.equal(r.code, null, 'an exit status came instead of the signal');
  });

  it('a create in flight when stop is called fails, and leaves no instance and no SSH server behind', async () => {
    const pending = create();
    set.stop();
    await assert.rejects(pending, /loopback: instance set stopped while the instance was being created/);
    assert.deepEqual(await set.instances({}), []);
  });
});
