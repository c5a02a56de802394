/**
 * The dispatcher's SSH public key as an EC2 key pair: found by fingerprint
 * (so a restarted dispatcher, or the reference's, reuses the pair already
 * there), imported once otherwise, and remembered for the life of the
 * process. Concurrent creates wait for the same lookup instead of each
 * importing its own copy.
 */
import './sdk-env.js';
import { createHash, createPublicKey } from 'node:crypto';
import { DescribeKeyPairsCommand, type EC2Client, ImportKeyPairCommand } from '@aws-sdk/client-ec2';
import type { Logger } from '../../src/log.js';

/** The key pair name prefix, as the reference names its imports (so each finds the other's). */
export const KEY_NAME_PREFIX = 'arvados-dispatch-keypair-';

/** A parsed OpenSSH public key line. */
export interface ParsedPublicKey {
  type: string;
  /** The SSH wire-format blob (base64-decoded second field). */
  blob: Buffer;
  /** `type base64` without the comment: what we import. */
  line: string;
}

export class PublicKeyError extends Error {
  override name = 'PublicKeyError';
}

export function parsePublicKey(line: string): ParsedPublicKey {
  const fields = line.trim().split(/\s+/);
  if (fields.length < 2) throw new PublicKeyError('public key: expected an OpenSSH line "TYPE BASE64 [COMMENT]"');
  const blob = Buffer.from(fields[1], 'base64');
  const inner = readSshString(blob, 0);
  if (!inner || inner.value.toString('latin1') !== fields[0]) throw new PublicKeyError(`public key: malformed ${fields[0]} key`);
  return { type: fields[0], blob, line: `${fields[0]} ${fields[1]}` };
}

function readSshString(buf: Buffer, offset: number): { value: Buffer; next: number } | undefined {
  if (offset + 4 > buf.length) return undefined;
  const len = buf.readUInt32BE(offset);
  if (offset + 4 + len > buf.length) return undefined;
  return { value: buf.subarray(offset + 4, offset + 4 + len), next: offset + 4 + len };
}

const colonHex = (digest: Buffer): string => [...digest].map((b) => b.toString(16).padStart(2, '0')).join(':');

/** An ssh-rsa blob's key as SPKI DER, which is what AWS fingerprints for RSA keys. */
function rsaSpkiDer(blob: Buffer): Buffer | undefined {
  const type = readSshString(blob, 0);
  const e = type && readSshString(blob, type.next);
  const n = e && readSshString(blob, e.next);
  if (!n) return undefined;
  const unsigned = (b: Buffer) => (b[0] === 0 ? b.subarray(1) : b).toString('base64url');
  try {
    return createPublicKey({ key: { kty: 'RSA', e: unsigned(e.value), n: unsigned(n.value) }, format: 'jwk' }).export({ type: 'spki', format: 'der' });
  } catch {
    return undefined;
  }
}

/**
 * Every fingerprint EC2 (or an EC2-compatible cloud) might show for this key,
 * the one the reference names its imported pair after first. For RSA that is
 * AWS's MD5 (then SHA-1) of the SPKI DER; for any other type (ED25519) the
 * OpenSSH SHA-256 form `SHA256:<base64>`, padded then unpadded, as the
 * reference computes it. Then the bare base64 SHA-256 (how AWS shows
 * imported ED25519 keys) and the OpenSSH MD5 of the blob (other clouds).
 * Searching for all of them costs nothing and finds the pair whoever
 * imported it.
 */
export function keyFingerprints(key: ParsedPublicKey): string[] {
  const out: string[] = [];
  const sha256 = createHash('sha256').update(key.blob).digest('base64');
  if (key.type === 'ssh-rsa') {
    const der = rsaSpkiDer(key.blob);
    if (der) out.push(colonHex(createHash('md5').update(der).digest()), colonHex(createHash('sha1').update(der).digest()));
  } else {
    out.push(`SHA256:${sha256}`, `SHA256:${sha256.replace(/=+$/, '')}`);
  }
  out.push(sha256, sha256.replace(/=+$/, ''));
  out.push(colonHex(createHash('md5').update(key.blob).digest()));
  return [...new Set(out)];
}

/**
 * Key pair names by fingerprint. One per instance set: the cache is "per
 * process per key" in practice, since a dispatcher has one instance set.
 */
export class KeyPairs {
  private readonly names = new Map<string, Promise<string>>();

  constructor(
    private readonly client: EC2Client,
    private readonly logger: Logger,
  ) {}

  /** The name of a key pair holding `publicKey`, importing it if EC2 has none. */
  keyName(publicKey: string): Promise<string> {
    const key = parsePublicKey(publicKey);
    const fingerprints = keyFingerprints(key);
    const cacheKey = fingerprints[0];
    let pending = this.names.get(cacheKey);
    if (!pending) {
      pending = this.findOrImport(key, fingerprints);
      this.names.set(cacheKey, pending);
      // A failed lookup is not remembered: the next create asks again.
      pending.catch(() => {
        if (this.names.get(cacheKey) === pending) this.names.delete(cacheKey);
      });
    }
    return pending;
  }

  /** Forgets the name found for `publicKey` (EC2 says it no longer has that pair): the next create looks it up, or imports it, again. */
  forget(publicKey: string): void {
    this.names.delete(keyFingerprints(parsePublicKey(publicKey))[0]);
  }

  private async findOrImport(key: ParsedPublicKey, fingerprints: string[]): Promise<string> {
    const found = await this.client.send(new DescribeKeyPairsCommand({ Filters: [{ Name: 'fingerprint', Values: fingerprints }] }));
    const existing = found.KeyPairs?.find((kp) => kp.KeyName)?.KeyName;
    if (existing) {
      this.logger.info('using existing key pair', { KeyName: existing });
      return existing;
    }
    const name = KEY_NAME_PREFIX + fingerprints[0];
    try {
      await this.client.send(new ImportKeyPairCommand({ KeyName: name, PublicKeyMaterial: Buffer.from(key.line + '\n') }));
    } catch (err) {
      // Our name is derived from the key, so a pair of that name holds this
      // key even when the cloud fingerprints it in a way we did not search for.
      if ((err as { name?: string }).name !== 'InvalidKeyPair.Duplicate') throw err;
      return name;
    }
    this.logger.info('imported key pair', { KeyName: name });
    return name;
  }
}
