import assert from 'node:assert/strict';
import { formatByteSize, formatDuration, parseByteSize, parseDuration } from '../../src/config/units.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

describe('config units', () => {
  describe('parseDuration', () => {
    const good: Array<[string | number, number]> = [
      ['10s', 10_000],
      ['1m30s', 90_000],
      ['2h', 7_200_000],
      ['300ms', 300],
      ['1.5h', 5_400_000],
      ['0', 0],
      [0, 0],
      ['0s', 0],
      ['1h2m3.5s', 3_723_500],
      ['.5s', 500],
      ['5.s', 5_000],
      ['+3s', 3_000],
      ['-3s', -3_000],
      ['1500us', 1.5],
      ['1500\u00b5s', 1.5],
      ['1500\u03bcs', 1.5],
      ['2000000ns', 2],
      // A fraction of a nanosecond is cut off, as Go's ParseDuration does.
      ['1.5ns', 0.000_001],
      ['2.9ns', 0.000_002],
      ['24h', 86_400_000],
      // Go takes a signed unitless zero, and adds up a unit given twice.
      ['-0', 0],
      ['+0', 0],
      ['1h1h', 7_200_000],
    ];
    for (const [input, ms] of good) {
      it(`${JSON.stringify(input)} is ${ms} ms`, () => assert.equal(parseDuration(input), ms));
    }

    const bad: Array<[string | number, string]> = [
      ['1 minute', 'invalid duration "1 minute"'],
      ['60', 'invalid duration "60": missing unit, e.g. "60s"'],
      [60, 'invalid duration "60": missing unit, e.g. "60s"'],
      ['', 'invalid duration ""'],
      ['s', 'invalid duration "s"'],
      ['5x', 'invalid duration "5x": unknown unit "x" (use ns, us, ms, s, m or h)'],
      ['1m30', 'invalid duration "1m30"'],
      ['.s', 'invalid duration ".s"'],
      ['-', 'invalid duration "-"'],
      ['10S', 'invalid duration "10S": unknown unit "S" (use ns, us, ms, s, m or h)'],
      ['9999999999h', 'invalid duration "9999999999h": too long'],
    ];
    for (const [input, message] of bad) {
      it(`${JSON.stringify(input)} is rejected`, () => assert.throws(() => parseDuration(input), { message }));
    }
  });

  describe('formatDuration (as Go prints time.Duration)', () => {
    const table: Array<[number, string]> = [
      [0, '0s'],
      [10_000, '10s'],
      [60_000, '1m0s'],
      [120_000, '2m0s'],
      [90_000, '1m30s'],
      [3_600_000, '1h0m0s'],
      [5_400_000, '1h30m0s'],
      [300, '300ms'],
      [1_500, '1.5s'],
      [1.5, '1.5ms'],
      [0.001_5, '1.5\u00b5s'],
      [0.000_5, '500ns'],
      [-10_000, '-10s'],
      [86_400_000, '24h0m0s'],
    ];
    for (const [ms, text] of table) {
      it(`${ms} ms is "${text}" and parses back`, () => {
        assert.equal(formatDuration(ms), text);
        assert.equal(parseDuration(text), ms);
      });
    }
  });

  describe('parseByteSize', () => {
    const good: Array<[string | number, number]> = [
      [0, 0],
      ['0', 0],
      [1234, 1234],
      ['1234', 1234],
      ['16GB', 16e9],
      ['7680MiB', 7680 * MiB],
      ['1.5GiB', 1.5 * GiB],
      ['550MiB', 550 * MiB],
      ['4Gi', 4 * GiB],
      ['4G', 4e9],
      ['12 KiB', 12 * KiB],
      ['1KB', 1000],
      ['1KiB', 1024],
      ['1MB', 1e6],
      ['1TB', 1e12],
      ['1TiB', 2 ** 40],
      ['1PB', 1e15],
      ['1PiB', 2 ** 50],
      ['2EB', 2e18],
      ['1EiB', 2 ** 60],
      ['4.5EiB', 4.5 * 2 ** 60],
      // A final "E", or one before "B", is the Exa prefix, not an exponent.
      ['4.5E', 4.5e18],
      ['1EB', 1e18],
      ['1e3KB', 1e6],
      ['10B', 10],
      ['0.5KiB', 512],
      // A fraction of a byte is cut off, not rounded, as Arvados's int64(float) does: "2.9B" is 2 there too.
      ['1.5B', 1],
      ['2.9B', 2],
      ['-2.9B', -2],
    ];
    for (const [input, bytes] of good) {
      it(`${JSON.stringify(input)} is ${bytes} bytes`, () => assert.equal(parseByteSize(input), bytes));
    }

    const bad: Array<[string | number, string]> = [
      ['lots', 'invalid byte size "lots"'],
      ['', 'invalid byte size ""'],
      ['4GX', 'invalid byte size "4GX": unknown unit "GX" (use B, KB, KiB, MB, MiB, GB, GiB, TB, TiB, PB, PiB, EB or EiB)'],
      ['4gb', 'invalid byte size "4gb": unknown unit "gb" (use B, KB, KiB, MB, MiB, GB, GiB, TB, TiB, PB, PiB, EB or EiB)'],
      ['1..5GB', 'invalid byte size "1..5GB": "1..5" is not a number'],
      ['16EiB', 'invalid byte size "16EiB": too large'],
      // Arvados's int64 overflows below as well as above.
      ['-16EiB', 'invalid byte size "-16EiB": too large'],
      // A leading zero is no JSON number: Arvados's JSON decoder stops after the "0" and reads 0 bytes, so refuse it rather than read 8GiB.
      ['08GiB', 'invalid byte size "08GiB": "08" is not a number'],
      [1.5, 'invalid byte size 1.5: expected a whole number of bytes, or a string with a unit like "1.5GiB"'],
    ];
    for (const [input, message] of bad) {
      it(`${JSON.stringify(input)} is rejected`, () => assert.throws(() => parseByteSize(input), { message }));
    }
  });

  describe('formatByteSize', () => {
    const table: Array<[number, string | number]> = [
      [0, 0],
      [550 * MiB, '550MiB'],
      [16e9, '16GB'],
      [4 * GiB, '4GiB'],
      [1024, '1KiB'],
      [1000, '1KB'],
      [1023, 1023],
      [7680 * MiB, '7680MiB'],
      [300e9, '300GB'],
    ];
    for (const [bytes, text] of table) {
      it(`${bytes} is ${JSON.stringify(text)} and parses back`, () => {
        assert.equal(formatByteSize(bytes), text);
        assert.equal(parseByteSize(text), bytes);
      });
    }
  });
});
