/**
 * DispatchPrivateKey in PKCS#8 form ("-----BEGIN PRIVATE KEY-----"), which
 * Arvados takes and ssh2 cannot read: rewritten for ssh2, the public key it
 * gives is the key's own (computed here from the key's JWK, not by ssh2),
 * and the dispatcher logs in with it.
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { generateHostKey, SshServer } from '../../drivers/lame/sshd.js';
import { publicKeyLine } from '../../src/ssh/keys.js';
import { sshReadablePrivateKey } from '../../src/ssh/pkcs8.js';
import { SshExecutor } from '../../src/ssh/ssh-executor.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { dispatcherKeys } from '../../src/vm-access.js';
import { makeCluster } from '../drivers/lame/helpers.js';

const wire = (b: Buffer | string): Buffer => {
  const bytes = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
};
/** An SSH mpint from big-endian unsigned bytes. */
const mpint = (b: Buffer): Buffer => wire(b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
const b64u = (s: string | undefined): Buffer => Buffer.from(s ?? '', 'base64url');

/** The OpenSSH public key line of `pub`, from its JWK (RFC 4253, 5656, 8709). */
function expectedLine(pub: KeyObject): string {
  const j = pub.export({ format: 'jwk' });
  const [name, parts] =
    j.kty === 'RSA'
      ? ['ssh-rsa', [mpint(b64u(j.e)), mpint(b64u(j.n))]]
      : j.kty === 'EC'
        ? ['ecdsa-sha2-nistp256', [wire('nistp256'), wire(Buffer.concat([Buffer.from([4]), b64u(j.x), b64u(j.y)]))]]
        : ['ssh-ed25519', [wire(b64u(j.x))]];
  return `${name} ${Buffer.concat([wire(name), ...parts]).toString('base64')}`;
}

function pkcs8(type: 'rsa' | 'ec' | 'ed25519'): { pem: string; pub: KeyObject } {
  const opts = type === 'rsa' ? { modulusLength: 2048 } : type === 'ec' ? { namedCurve: 'P-256' } : {};
  const { privateKey } = generateKeyPairSync(type as 'rsa', { ...(opts as { modulusLength: number }), privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  return { pem: privateKey, pub: createPublicKey(privateKey) };
}

describe('ssh keys in PKCS#8 form', function () {
  this.timeout(20_000);

  for (const type of ['rsa', 'ec', 'ed25519'] as const) {
    it(`reads a PKCS#8 ${type} key: its public key line is the key's own, and it logs in`, async () => {
      const { pem, pub } = pkcs8(type);
      assert.match(pem, /^-----BEGIN PRIVATE KEY-----/);
      const readable = sshReadablePrivateKey(pem);
      const line = publicKeyLine(readable);
      assert.equal(line, expectedLine(pub));
      const server = new SshServer({ hostKey: generateHostKey().private, authorizedKeys: [line], handler: async () => ({ stdout: 'ok\n', stderr: '', exitCode: 0 }) });
      await server.start();
      const exr = new SshExecutor({ target: server.address, username: 'crunch', privateKey: readable, verifyHostKey: async () => undefined, connectTimeoutMs: 5000 });
      try {
        const res = await exr.execute('true');
        assert.equal(res.stdout.toString(), 'ok\n');
      } finally {
        exr.close();
        await server.close();
      }
    });
  }

  it('is what the dispatcher logs in with when DispatchPrivateKey is PKCS#8, with the public key it deploys', () => {
    const { pem, pub } = pkcs8('ed25519');
    const cluster = makeCluster();
    cluster.Containers.CloudVMs.Driver = 'ec2';
    cluster.Containers.CloudVMs.DeployPublicKey = true;
    cluster.Containers.DispatchPrivateKey = pem;
    const keys = dispatcherKeys(cluster, createLogger({ stream: new LineCollector() }));
    assert.match(keys.privateKey, /^-----BEGIN OPENSSH PRIVATE KEY-----/);
    assert.equal(keys.publicKey, expectedLine(pub));
  });

  it('leaves other forms as they are, and says why an unusable PKCS#8 key is refused', () => {
    const openssh = generateHostKey().private;
    assert.equal(sshReadablePrivateKey(openssh), openssh);
    assert.equal(sshReadablePrivateKey('not a key'), 'not a key');
    assert.throws(() => sshReadablePrivateKey('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), /cannot parse the PKCS#8 private key/);
    const { privateKey: x25519 } = generateKeyPairSync('x25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    assert.throws(() => sshReadablePrivateKey(x25519), /PKCS#8 x25519 key cannot be used for SSH/);
  });
});
