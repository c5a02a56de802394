import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { exitCodeForSignal, fingerprint, formatTarget, parseTarget, sameKey, shellQuote, withEnvPrefix } from '../../src/ssh/util.js';

describe('ssh util', () => {
  describe('parseTarget', () => {
    it('takes host, host:port and IPv6 forms', () => {
      assert.deepEqual(parseTarget('10.0.0.5', 22), { host: '10.0.0.5', port: 22 });
      assert.deepEqual(parseTarget('10.0.0.5:2222', 22), { host: '10.0.0.5', port: 2222 });
      assert.deepEqual(parseTarget('vm.example:2200', 22), { host: 'vm.example', port: 2200 });
      assert.deepEqual(parseTarget('[::1]:22', 2222), { host: '::1', port: 22 });
      assert.deepEqual(parseTarget('[fe80::1]', 2222), { host: 'fe80::1', port: 2222 });
      assert.deepEqual(parseTarget('fe80::1', 2222), { host: 'fe80::1', port: 2222 });
    });

    it('refuses empty addresses and bad ports', () => {
      assert.throws(() => parseTarget('', 22), /no address/);
      assert.throws(() => parseTarget('host:abc', 22), /bad port/);
      assert.throws(() => parseTarget('host:0', 22), /out of range/);
      assert.throws(() => parseTarget('host:70000', 22), /out of range/);
      assert.throws(() => parseTarget(':22', 22), /no host/);
      assert.throws(() => parseTarget('[::1', 22), /malformed/);
    });

    it('formats IPv6 targets in brackets', () => {
      assert.equal(formatTarget({ host: '::1', port: 22 }), '[::1]:22');
      assert.equal(formatTarget({ host: '127.0.0.1', port: 22 }), '127.0.0.1:22');
    });
  });

  describe('quoting', () => {
    it('single-quotes, escaping quotes as in ARVADOS.md', () => {
      assert.equal(shellQuote("it's"), `'it'\\''s'`);
      assert.equal(shellQuote(''), `''`);
    });

    it('prefixes env in name order and checks names', () => {
      assert.equal(withEnvPrefix('cmd', { B: 'x y', A: "q'" }), `A='q'\\''' B='x y' cmd`);
      assert.equal(withEnvPrefix('cmd', undefined), 'cmd');
      assert.throws(() => withEnvPrefix('cmd', { 'A=B': 'x' }), /invalid environment variable name/);
      assert.throws(() => withEnvPrefix('cmd', { 'A;rm': 'x' }), /invalid environment variable name/);
    });
  });

  it('fingerprints like ssh-keygen -l', () => {
    const key = Buffer.from('some key blob');
    const expected = createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
    assert.equal(fingerprint(key), `SHA256:${expected}`);
  });

  it('compares keys of any length', () => {
    assert.equal(sameKey(Buffer.from('abc'), Buffer.from('abc')), true);
    assert.equal(sameKey(Buffer.from('abc'), Buffer.from('abd')), false);
    assert.equal(sameKey(Buffer.from('abc'), Buffer.from('abcd')), false);
  });

  it('maps signals to 128 + number, unknown to -1', () => {
    assert.equal(exitCodeForSignal('SIGKILL'), 137);
    assert.equal(exitCodeForSignal('TERM'), 143);
    assert.equal(exitCodeForSignal('SIGNOPE'), -1);
    assert.equal(exitCodeForSignal(undefined), -1);
  });
});
