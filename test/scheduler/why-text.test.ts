import assert from 'node:assert/strict';
import { estimateSentence, span } from '../../src/scheduler/why-text.js';

const MIN = 60_000;

describe('why in words', () => {
  it('says when a container should start, in minutes, then hours', () => {
    const now = 1_000_000;
    assert.equal(estimateSentence(now, now + 10_000, now + 50_000), 'Estimated start in less than a minute.');
    assert.equal(estimateSentence(now, now + 4 * MIN, now + 9 * MIN), 'Estimated start in 4-9 minutes.');
    assert.equal(estimateSentence(now, now + 20_000, now + 70_000), 'Estimated start in about 1 minute.');
    assert.equal(estimateSentence(now, now - 5 * MIN, now + 3 * MIN), 'Estimated start in 1-3 minutes.', 'a low bound already past counts from now');
    assert.equal(estimateSentence(now, now + 90 * MIN, now + 200 * MIN), 'Estimated start in 2-3 hours.');
    assert.equal(estimateSentence(now, now + 3 * 60 * MIN, now + 3 * 60 * MIN), 'Estimated start in about 3 hours.');
  });

  it('spans in seconds, minutes and hours', () => {
    assert.deepEqual([span(40_000), span(6 * MIN), span(150 * MIN)], ['40 s', '6 min', '2.5 h']);
  });
});
