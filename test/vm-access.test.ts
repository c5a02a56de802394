/**
 * How the dispatcher reaches its VMs (src/vm-access.ts): the SSH handshake
 * deadline, the default command deadline of a VM's executor, and which
 * DispatchPrivateKey settings a start accepts.
 */
import assert from 'node:assert/strict';
import type { ServerChannel } from 'ssh2';
import { generateHostKey, SshServer } from '../drivers/lame/sshd.js';
import { HostKeyVerificationNotImplemented } from '../src/cloud/errors.js';
import type { Instance } from '../src/cloud/types.js';
import { ManualClock } from '../src/clock/index.js';
import { createLogger, LineCollector, RateLimitedLog, silentLogger } from '../src/log.js';
import { CommandTimeoutError, HostKeyRefusedError } from '../src/ssh/ssh-executor.js';
import { dispatcherKeys, sshConnectTimeoutMs, vmSshExecutor } from '../src/vm-access.js';
import { poolCommandTimeoutMs } from '../src/worker/pool-config.js';
import { DISPATCH_KEY, makeCluster } from './drivers/lame/helpers.js';

function realTurn(ms = 5): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An instance at `address` for vmSshExecutor, with the fields a test changes. */
function fakeInstance(address: string, o: Partial<Instance> & Pick<Instance, 'id' | 'verifyHostKey'>): Instance {
  return { providerType: 't', tags: {}, address, remoteUser: 'root', setTags: async () => undefined, destroy: async () => undefined, ...o } as Instance;
}

describe('vm-access', function () {
  this.timeout(10_000);

  it('the SSH handshake deadline is 3 x ProbeInterval, but at least 5 s and at most 60 s', () => {
    const vms = makeCluster().Containers.CloudVMs;
    for (const [probe, want] of [
      [1_000, 5_000],
      [15_000, 45_000],
      [600_000, 60_000],
    ]) {
      vms.ProbeInterval = probe;
      assert.equal(sshConnectTimeoutMs(vms), want, `ProbeInterval ${probe}`);
    }
  });
  it('a VM executor gives a command without a deadline of its own the pool command timeout: one that never answers cannot hold its caller for good', async () => {
    const channels: ServerChannel[] = [];
    const server = new SshServer({
      hostKey: generateHostKey().private,
      authorizedKeys: [DISPATCH_KEY.public],
      channelHandler: (ch) => void channels.push(ch), // never answers
    });
    await server.start();
    const cluster = makeCluster();
    const clock = new ManualClock();
    // The driver vouches for the key.
    const instance = fakeInstance(server.address, { id: 'i-hang', verifyHostKey: async () => undefined });
    const exr = vmSshExecutor(cluster, instance, { sshPort: 22, privateKey: DISPATCH_KEY.private, clock, logger: silentLogger() });
    try {
      let settled = false;
      const p = exr.execute('hang').catch((e: unknown) => e).finally(() => (settled = true));
      for (let i = 0; i < 600 && channels.length === 0; i++) await realTurn();
      assert.equal(channels.length, 1, 'the command reached the VM');
      const limit = poolCommandTimeoutMs(cluster.Containers.CloudVMs);
      await clock.advance(limit - 1);
      await realTurn();
      assert.equal(settled, false);
      await clock.advance(1);
      const err = await Promise.race([p, realTurn(2_000).then(() => 'still pending')]);
      assert.ok(err instanceof CommandTimeoutError, String(err));
      assert.equal(err.timeoutMs, limit);
    } finally {
      exr.close();
      await server.close();
    }
  });

  it('an empty DispatchPrivateKey is refused for every driver but lame (which gets a throwaway key)', () => {
    const cluster = makeCluster();
    cluster.Containers.DispatchPrivateKey = '';
    for (const driver of ['ec2', 'azure', 'gce', 'loopback']) {
      cluster.Containers.CloudVMs.Driver = driver;
      assert.throws(() => dispatcherKeys(cluster, silentLogger()), /Containers\.DispatchPrivateKey: required to run the dispatcher, but empty/, driver);
    }
    cluster.Containers.CloudVMs.Driver = 'lame';
    assert.match(dispatcherKeys(cluster, silentLogger()).privateKey, /BEGIN OPENSSH PRIVATE KEY/);
  });
  it('with DeployPublicKey false, logs in with DispatchPrivateKey but gives the driver no public key to install', () => {
    const cluster = makeCluster();
    cluster.Containers.CloudVMs.Driver = 'ec2';
    cluster.Containers.DispatchPrivateKey = DISPATCH_KEY.private;
    cluster.Containers.CloudVMs.DeployPublicKey = true;
    const deployed = dispatcherKeys(cluster, silentLogger());
    assert.match(deployed.publicKey, /^ssh-\S+ \S+/, 'DeployPublicKey true: the key of DispatchPrivateKey goes to create');
    cluster.Containers.CloudVMs.DeployPublicKey = false;
    const kept = dispatcherKeys(cluster, silentLogger());
    assert.equal(kept.publicKey, '', 'DeployPublicKey false: no key for the driver to install');
    assert.equal(kept.privateKey, deployed.privateKey, 'the login key is the same either way');
  });
  it('reads the instance secret through sudo when the VM login user is not root (the file is root-only), and without it as root', async () => {
    const SECRET = 'f00dfeedf00dfeedf00dfeedf00dfeedf00dfeed';
    const seen: string[] = [];
    const server = new SshServer({
      hostKey: generateHostKey().private,
      authorizedKeys: [DISPATCH_KEY.public],
      handler: async (ctx) => {
        seen.push(ctx.command);
        if (ctx.command === 'sudo cat /var/run/arvados-instance-secret') return { stdout: SECRET, exitCode: 0 };
        if (ctx.command === 'cat /var/run/arvados-instance-secret') {
          return ctx.username === 'root' ? { stdout: SECRET, exitCode: 0 } : { stderr: 'cat: /var/run/arvados-instance-secret: Permission denied\n', exitCode: 1 };
        }
        return { stdout: 'ran\n', exitCode: 0 };
      },
    });
    await server.start();
    const cluster = makeCluster();
    const tag = `${cluster.Containers.CloudVMs.TagKeyPrefix}InstanceSecret`;
    try {
      for (const remoteUser of ['crunch', 'root']) {
        seen.length = 0;
        const instance = fakeInstance(server.address, {
          id: `i-${remoteUser}`,
          tags: { [tag]: SECRET },
          remoteUser,
          verifyHostKey: async () => Promise.reject(new HostKeyVerificationNotImplemented()),
        });
        const exr = vmSshExecutor(cluster, instance, { sshPort: 22, privateKey: DISPATCH_KEY.private, clock: new ManualClock(), logger: silentLogger() });
        try {
          assert.equal((await exr.execute('true', { timeoutMs: 0 })).stdout.toString(), 'ran\n', remoteUser);
        } finally {
          exr.close();
        }
        assert.deepEqual(seen, [remoteUser === 'root' ? 'cat /var/run/arvados-instance-secret' : 'sudo cat /var/run/arvados-instance-secret', 'true'], remoteUser);
      }
    } finally {
      await server.close();
    }
  });
  it('executors sharing `warnings` log one "SSH host key refused" a minute across the fleet, naming the instance', async () => {
    const server = new SshServer({
      hostKey: generateHostKey().private,
      authorizedKeys: [DISPATCH_KEY.public],
      handler: async () => ({ stdout: 'ran\n', exitCode: 0 }),
    });
    await server.start();
    const cluster = makeCluster();
    const clock = new ManualClock();
    const lines = new LineCollector();
    const logger = createLogger({ stream: lines, level: 'warn', clock });
    const warnings = new RateLimitedLog(logger, clock);
    const executors = ['i-a', 'i-b', 'i-c'].map((id) =>
      vmSshExecutor(
        cluster,
        fakeInstance(server.address, { id, verifyHostKey: async () => Promise.reject(new Error('fingerprint mismatch')) }),
        { sshPort: 22, privateKey: DISPATCH_KEY.private, clock, logger, warnings },
      ),
    );
    try {
      for (const exr of executors) await assert.rejects(exr.execute('true', { timeoutMs: 0 }), HostKeyRefusedError);
      const refused = lines.records().filter((r) => r.msg === 'SSH host key refused');
      assert.equal(refused.length, 1, JSON.stringify(refused));
      assert.equal(refused[0].Instance, 'i-a');
    } finally {
      for (const exr of executors) exr.close();
      await server.close();
    }
  });
});
