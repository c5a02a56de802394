/**
 * Private keys in PKCS#8 form ("-----BEGIN PRIVATE KEY-----", what
 * `openssl genpkey` and `ssh-keygen -m PKCS8` write), which Arvados takes for
 * DispatchPrivateKey and ssh2 cannot read, rewritten in a form ssh2 reads:
 * RSA as PKCS#1, ECDSA as SEC1, Ed25519 as an OpenSSH key. Any other text is
 * returned as it is, for ssh2 to take or refuse.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';

const PKCS8_BLOCK = /-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----/;

export function sshReadablePrivateKey(text: string): string {
  const block = PKCS8_BLOCK.exec(text)?.[0];
  if (block === undefined) return text;
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: block, format: 'pem' });
  } catch (err) {
    throw new Error(`cannot parse the PKCS#8 private key: ${(err as Error).message}`);
  }
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return key.export({ type: 'pkcs1', format: 'pem' }).toString();
    case 'ec':
      return key.export({ type: 'sec1', format: 'pem' }).toString();
    case 'ed25519':
      return openSshEd25519(key);
    default:
      throw new Error(`a PKCS#8 ${key.asymmetricKeyType ?? 'unknown'} key cannot be used for SSH here (use RSA, ECDSA or Ed25519)`);
  }
}

/** An SSH wire string: 32-bit big-endian length, then the bytes. */
function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

/** An unencrypted `openssh-key-v1` file holding one Ed25519 key, as `ssh-keygen` writes it. */
function openSshEd25519(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  if (typeof jwk.d !== 'string' || typeof jwk.x !== 'string') throw new Error('the Ed25519 key has no private part');
  const seed = Buffer.from(jwk.d, 'base64url');
  const pub = Buffer.from(jwk.x, 'base64url');
  const pubBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  // Both check words must match; any value will do.
  const check = Buffer.alloc(8);
  check.writeUInt32BE(0x61727664, 0);
  check.writeUInt32BE(0x61727664, 4);
  let priv = Buffer.concat([check, sshString('ssh-ed25519'), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString('')]);
  // Padded with 1, 2, 3, ... to the cipher's block size (8 for "none").
  const pad = (8 - (priv.length % 8)) % 8;
  priv = Buffer.concat([priv, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    Buffer.from([0, 0, 0, 1]),
    sshString(pubBlob),
    sshString(priv),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}
