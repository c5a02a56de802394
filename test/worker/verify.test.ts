import assert from 'node:assert/strict';
import { HostKeyVerificationNotImplemented } from '../../src/cloud/errors.js';
import type { Instance } from '../../src/cloud/types.js';
import { CommandTimeoutError, HostKeyCheckPendingError, SshConnectionLostError } from '../../src/ssh/errors.js';
import type { ExecuteResult, Executor } from '../../src/ssh/executor.js';
import { HostKeyMismatchError, hostKeyVerifier } from '../../src/worker/verify.js';

const SECRET = '0123456789abcdef0123456789abcdef01234567';

function instance(tags: Record<string, string>, verify?: Instance['verifyHostKey']): Instance {
  return {
    id: 'i-1',
    providerType: 't',
    tags,
    address: '127.0.0.1:22',
    remoteUser: 'crunch',
    setTags: async () => {},
    destroy: async () => {},
    verifyHostKey: verify ?? (async () => Promise.reject(new HostKeyVerificationNotImplemented())),
  };
}

function executor(result: Partial<ExecuteResult>, seen: string[]): Executor {
  return {
    execute: async (cmd) => {
      seen.push(cmd);
      return { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 0, ...result };
    },
    setTarget: () => {},
    close: () => {},
  };
}

const sudo = (cmd: string) => `sudo ${cmd}`;

describe('hostKeyVerifier', () => {
  it('trusts the key when the driver verifies it, without reading the secret', async () => {
    const seen: string[] = [];
    const v = hostKeyVerifier(instance({}, async () => {}), 'ArvadosInstanceSecret', sudo);
    await v(Buffer.from('key'), executor({}, seen));
    assert.deepEqual(seen, []);
  });

  it('refuses when the driver refuses, without falling back', async () => {
    const v = hostKeyVerifier(
      instance({ ArvadosInstanceSecret: SECRET }, async () => Promise.reject(new Error('fingerprint mismatch'))),
      'ArvadosInstanceSecret',
      sudo,
    );
    await assert.rejects(v(Buffer.from('key'), executor({ stdout: Buffer.from(SECRET) }, [])), /fingerprint mismatch/);
  });

  it('falls back to the InstanceSecret file when the driver cannot verify', async () => {
    const seen: string[] = [];
    const v = hostKeyVerifier(instance({ ArvadosInstanceSecret: SECRET }), 'ArvadosInstanceSecret', sudo);
    await v(Buffer.from('key'), executor({ stdout: Buffer.from(SECRET + '\n') }, seen));
    assert.deepEqual(seen, ['sudo cat /var/run/arvados-instance-secret']);
  });

  it('refuses a host whose secret differs, or an instance without the tag', async () => {
    const v = hostKeyVerifier(instance({ ArvadosInstanceSecret: SECRET }), 'ArvadosInstanceSecret', sudo);
    await assert.rejects(v(Buffer.from('k'), executor({ stdout: Buffer.from('f'.repeat(40)) }, [])), HostKeyMismatchError);
    const untagged = hostKeyVerifier(instance({}), 'ArvadosInstanceSecret', sudo);
    await assert.rejects(untagged(Buffer.from('k'), executor({ stdout: Buffer.from(SECRET) }, [])), (err: unknown) => {
      assert.ok(err instanceof HostKeyMismatchError, String(err));
      assert.match(err.message, /no ArvadosInstanceSecret tag/);
      return true;
    });
  });

  it('says "not yet", not "refused", while the secret file cannot be read (cloud-init has not written it)', async () => {
    const v = hostKeyVerifier(instance({ ArvadosInstanceSecret: SECRET }), 'ArvadosInstanceSecret', sudo);
    await assert.rejects(v(Buffer.from('k'), executor({ exitCode: 1, stderr: Buffer.from('cat: /var/run/arvados-instance-secret: No such file or directory') }, [])), (err: unknown) => {
      assert.ok(err instanceof HostKeyCheckPendingError, String(err));
      assert.ok(!(err instanceof HostKeyMismatchError));
      assert.match(err.message, /exit code 1 .*: cat: .*No such file or directory/);
      assert.equal(err.sudoRefused, false);
      return true;
    });
  });

  it('puts only the start of a long stderr in its message', async () => {
    const v = hostKeyVerifier(instance({ ArvadosInstanceSecret: SECRET }), 'ArvadosInstanceSecret', sudo);
    const stderr = Buffer.from(`cat: /var/run/arvados-instance-secret: ${'x'.repeat(1_000_000)}`);
    await assert.rejects(v(Buffer.from('k'), executor({ exitCode: 1, stderr }, [])), (err: unknown) => {
      assert.ok(err instanceof HostKeyCheckPendingError, String(err));
      assert.ok(err.message.length < 1_200, `${err.message.length} characters`);
      assert.match(err.message, /not written by the init script yet\?\): cat: \/var\/run\/arvados-instance-secret: x+$/);
      return true;
    });
  });

  it('says "not yet" when the secret read times out, and passes other failures on', async () => {
    const v = hostKeyVerifier(instance({ ArvadosInstanceSecret: SECRET }), 'ArvadosInstanceSecret', sudo);
    const failing = (err: Error): Executor => ({ execute: () => Promise.reject(err), setTarget: () => {}, close: () => {} });
    const timeout = new CommandTimeoutError('127.0.0.1:22', 'sudo cat /var/run/arvados-instance-secret', 60_000);
    await assert.rejects(v(Buffer.from('k'), failing(timeout)), (err: unknown) => {
      assert.ok(err instanceof HostKeyCheckPendingError, String(err));
      assert.match(err.message, /reading \/var\/run\/arvados-instance-secret did not finish: .*timed out after 60000 ms/);
      assert.equal(err.sudoRefused, false);
      return true;
    });
    const lost = new SshConnectionLostError('127.0.0.1:22', 'was lost', true);
    await assert.rejects(v(Buffer.from('k'), failing(lost)), (err: unknown) => err === lost);
  });

  it('tells sudo refusing the read (no passwordless sudo, no sudo) from a secret not written yet', async () => {
    const v = hostKeyVerifier(instance({ ArvadosInstanceSecret: SECRET }), 'ArvadosInstanceSecret', sudo);
    for (const stderr of ['sudo: a terminal is required to read the password; either use the -S option to read from standard input or configure an askpass helper', 'sh: 1: sudo: not found']) {
      await assert.rejects(v(Buffer.from('k'), executor({ exitCode: 1, stderr: Buffer.from(stderr) }, [])), (err: unknown) => {
        assert.ok(err instanceof HostKeyCheckPendingError, String(err));
        assert.equal(err.sudoRefused, true, stderr);
        assert.match(err.message, /sudo refused: does AdminUsername have passwordless sudo\?/);
        return true;
      });
    }
    // As root there is no sudo in the command, whatever the message says.
    const asRoot = hostKeyVerifier(instance({ ArvadosInstanceSecret: SECRET }), 'ArvadosInstanceSecret', (cmd) => cmd);
    await assert.rejects(asRoot(Buffer.from('k'), executor({ exitCode: 1, stderr: Buffer.from('sudo: odd') }, [])), (err: unknown) => err instanceof HostKeyCheckPendingError && !err.sudoRefused);
  });
  it('trusts only the exact secret: a file holding more than it (after trailing whitespace) is refused', async () => {
    const v = hostKeyVerifier(instance({ ArvadosInstanceSecret: SECRET }), 'ArvadosInstanceSecret', sudo);
    for (const stdout of [`${SECRET}0`, `${SECRET} ${SECRET}`, `${SECRET}\nextra`]) {
      await assert.rejects(v(Buffer.from('k'), executor({ stdout: Buffer.from(stdout) }, [])), HostKeyMismatchError, JSON.stringify(stdout));
    }
    await assert.rejects(v(Buffer.from('k'), executor({ stdout: Buffer.from(SECRET.slice(0, -1)) }, [])), HostKeyMismatchError);
  });
  it('refuses an instance whose secret tag is empty, even when the host shows an empty file', async () => {
    const seen: string[] = [];
    const v = hostKeyVerifier(instance({ ArvadosInstanceSecret: '' }), 'ArvadosInstanceSecret', sudo);
    await assert.rejects(v(Buffer.from('k'), executor({ stdout: Buffer.alloc(0) }, seen)), /no ArvadosInstanceSecret tag/);
    assert.deepEqual(seen, [], 'nothing to compare with: the secret is not read');
  });
});
