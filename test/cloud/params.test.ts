import assert from 'node:assert/strict';
import { bool, httpURL, nonNegativeNumber, parseDriverParams, signedDuration, str } from '../../src/cloud/params.js';

class TestParamsError extends Error {}

describe('driver parameter toolkit', () => {
  const defaults = { Name: 'x', Tags: ['a'], Price: 0.1, Every: 1000, On: false, Endpoint: '' };
  const parsers = {
    Name: str,
    Tags: (v: unknown) => (Array.isArray(v) ? v.map(String) : [String(v)]),
    Price: nonNegativeNumber,
    Every: signedDuration,
    On: bool,
    Endpoint: httpURL('http://127.0.0.1:1'),
  };

  it('fills defaults, parses values, treats null as absent, and lists unknown names sorted', () => {
    const got = parseDriverParams({ Price: '0.25', Every: '1m', On: 'true', Name: null, Zeta: 1, Alpha: 2 }, parsers, defaults, (m) => new TestParamsError(m));
    assert.deepEqual(got.params, { Name: 'x', Tags: ['a'], Price: 0.25, Every: 60_000, On: true, Endpoint: '' });
    assert.deepEqual(got.unknown, ['Alpha', 'Zeta']);
  });

  it('never changes the defaults object it was given', () => {
    const got = parseDriverParams({}, parsers, defaults, (m) => new TestParamsError(m));
    got.params.Tags.push('b');
    assert.deepEqual(defaults.Tags, ['a']);
  });

  it('names the bad parameter and what was expected', () => {
    assert.throws(
      () => parseDriverParams({ Price: -1 }, parsers, defaults, (m) => new TestParamsError(m)),
      (e: unknown) => e instanceof TestParamsError && /^DriverParameters\.Price: expected a non-negative number, got -1$/.test(e.message),
    );
    assert.throws(() => parseDriverParams({ Endpoint: 'ftp://x' }, parsers, defaults, (m) => new TestParamsError(m)), /DriverParameters\.Endpoint: expected an http\(s\) URL/);
    assert.throws(() => parseDriverParams({ On: 'yes' }, parsers, defaults, (m) => new TestParamsError(m)), /DriverParameters\.On: expected true or false/);
    assert.throws(() => parseDriverParams([] as unknown as Record<string, unknown>, parsers, defaults, (m) => new TestParamsError(m)), /DriverParameters: expected a mapping/);
  });
});
