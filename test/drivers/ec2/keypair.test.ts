/** Key fingerprints as EC2 computes them, checked against an independent derivation (ssh2's PEM export). */
import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import ssh2 from 'ssh2';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { KEY_NAME_PREFIX, keyFingerprints, KeyPairs, parsePublicKey, PublicKeyError } from '../../../drivers/ec2/index.js';
import { silentLogger } from '../../../src/log.js';

const { utils } = ssh2;

const colonHex = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

describe('ec2 key pair fingerprints', () => {
  it('RSA: MD5 then SHA-1 of the SPKI DER first (what AWS shows for imported RSA keys)', () => {
    const pair = utils.generateKeyPairSync('rsa', { bits: 2048 });
    const parsed = utils.parseKey(pair.public);
    assert.ok(!(parsed instanceof Error) && !Array.isArray(parsed));
    const der = createPublicKey(parsed.getPublicPEM()).export({ type: 'spki', format: 'der' });
    const fps = keyFingerprints(parsePublicKey(pair.public));
    assert.equal(fps[0], colonHex(createHash('md5').update(der).digest()));
    assert.equal(fps[1], colonHex(createHash('sha1').update(der).digest()));
  });

  it('ED25519: the reference\'s SHA256:<base64> forms first (padded, then not), as it names the imported pair', () => {
    const pair = utils.generateKeyPairSync('ed25519');
    const key = parsePublicKey(pair.public);
    const sha = createHash('sha256').update(key.blob).digest('base64');
    assert.match(sha, /=$/);
    assert.deepEqual(keyFingerprints(key).slice(0, 2), [`SHA256:${sha}`, `SHA256:${sha.replace(/=+$/, '')}`]);
  });

  it('ED25519: includes the SHA-256 base64 form AWS uses and the OpenSSH MD5 of the blob', () => {
    const pair = utils.generateKeyPairSync('ed25519');
    const key = parsePublicKey(`${pair.public} comment here`);
    const fps = keyFingerprints(key);
    assert.ok(fps.includes(colonHex(createHash('md5').update(key.blob).digest())));
    assert.ok(fps.includes(createHash('sha256').update(key.blob).digest('base64').replace(/=+$/, '')));
    assert.equal(key.line.split(' ').length, 2, 'the comment is not imported');
  });

  it('rejects a malformed key line', () => {
    assert.throws(() => parsePublicKey('ssh-rsa'), PublicKeyError);
    assert.throws(() => parsePublicKey(`ssh-rsa ${Buffer.from('garbage').toString('base64')}`), PublicKeyError);
    // A type word that is not the blob's own (a hand-edited line): refused now, not at the cloud's import.
    const ed = utils.generateKeyPairSync('ed25519').public.split(' ');
    assert.throws(() => parsePublicKey(`ssh-rsa ${ed[1]}`), /public key: malformed ssh-rsa key/);
    assert.equal(parsePublicKey(`${ed[0]} ${ed[1]}`).type, 'ssh-ed25519');
  });
});

describe('ec2 key pair: import', () => {
  it('another dispatcher imported the same key between our describe and our import (InvalidKeyPair.Duplicate): the name is ours to use, the create goes on', async () => {
    const pair = utils.generateKeyPairSync('ed25519');
    const sent: string[] = [];
    const client = {
      send: async (cmd: { constructor: { name: string } }) => {
        sent.push(cmd.constructor.name);
        if (cmd.constructor.name === 'DescribeKeyPairsCommand') return { KeyPairs: [] };
        throw Object.assign(new Error('The keypair already exists'), { name: 'InvalidKeyPair.Duplicate' });
      },
    } as unknown as EC2Client;
    const name = await new KeyPairs(client, silentLogger()).keyName(pair.public);
    assert.equal(name, KEY_NAME_PREFIX + keyFingerprints(parsePublicKey(pair.public))[0]);
    assert.deepEqual(sent, ['DescribeKeyPairsCommand', 'ImportKeyPairCommand']);
  });
});
