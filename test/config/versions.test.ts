import assert from 'node:assert/strict';
import { parseVersion } from '../../src/config/versions.js';

describe('config versions (GPU driver versions and compute capabilities)', () => {
  it('reads what Go\'s strconv.ParseFloat reads, as numbers', () => {
    assert.equal(parseVersion('12.4'), 12.4);
    assert.equal(parseVersion('9'), 9);
    assert.equal(parseVersion('.5'), 0.5);
    assert.equal(parseVersion('5.'), 5);
    assert.equal(parseVersion('+1e1'), 10);
    assert.equal(parseVersion('Inf'), Infinity);
    assert.equal(parseVersion('-infinity'), -Infinity);
    assert.ok(Number.isNaN(parseVersion('NaN')));
  });

  it('refuses what ParseFloat refuses: several dots, words, blanks, out of range', () => {
    for (const v of ['', '12.4.1', 'latest', ' 12', '12 ', '1_0', '-nan', '1e400', 'sm_90']) assert.equal(parseVersion(v), undefined, v);
  });
});
