import assert from 'node:assert/strict';
import { generateSshKeyPair, publicKeyLine } from '../../src/ssh/keys.js';

describe('ssh keys', () => {
  it('derives the OpenSSH public key line from a private key', () => {
    const pair = generateSshKeyPair();
    const line = publicKeyLine(pair.private);
    assert.match(line, /^ssh-ed25519 [A-Za-z0-9+/]+=*$/);
    assert.equal(line, pair.public.split(' ').slice(0, 2).join(' '));
  });

  it('refuses a public key or garbage with a clear message', () => {
    const pair = generateSshKeyPair();
    assert.throws(() => publicKeyLine(pair.public), /not a private key/);
    assert.throws(() => publicKeyLine('-----BEGIN NONSENSE-----'), /cannot parse the private key/);
  });
});
