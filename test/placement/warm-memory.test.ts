/** What locality remembers of each VM: levels, the inverted index, bounds, and forgetting gone VMs. */
import assert from 'node:assert/strict';
import { MAX_IMAGES_PER_VM, WarmMemory } from '../../src/placement/warm-memory.js';

describe('warm memory', () => {
  it('gives level 1 for the image, 2 for a shared input, 0 otherwise or for an unknown VM', () => {
    const m = new WarmMemory();
    m.observe('i-1', 'img-a', ['pdh-x', 'pdh-y']);
    assert.equal(m.level('i-1', 'img-a', []), 1);
    assert.equal(m.level('i-1', 'img-b', ['pdh-y']), 2);
    assert.equal(m.level('i-1', 'img-b', ['pdh-z']), 0);
    assert.equal(m.level('i-2', 'img-a', ['pdh-x']), 0);
    assert.deepEqual([...(m.withImage('img-a') ?? [])], ['i-1']);
    assert.deepEqual([...(m.withInput('pdh-x') ?? [])], ['i-1']);
    assert.equal(m.withImage('img-b'), undefined);
  });

  it('forgets VMs that left the pool, index included', () => {
    const m = new WarmMemory();
    m.observe('i-1', 'img-a', ['pdh-x']);
    m.observe('i-2', 'img-a');
    m.retain(new Set(['i-2']));
    assert.deepEqual([...(m.withImage('img-a') ?? [])], ['i-2']);
    assert.equal(m.withInput('pdh-x'), undefined);
    assert.equal(m.size, 1);
  });

  it('keeps the most recently run images per VM, dropping the oldest from the index too', () => {
    const m = new WarmMemory();
    for (let i = 0; i <= MAX_IMAGES_PER_VM; i++) m.observe('i-1', `img-${i}`);
    assert.equal(m.level('i-1', 'img-0'), 0, 'evicted');
    assert.equal(m.withImage('img-0'), undefined);
    assert.equal(m.level('i-1', `img-${MAX_IMAGES_PER_VM}`), 1);
    // Running img-1 again makes it the newest: the next one evicts img-2 instead.
    m.observe('i-1', 'img-1');
    m.observe('i-1', 'img-new');
    assert.equal(m.level('i-1', 'img-1'), 1);
    assert.equal(m.level('i-1', 'img-2'), 0);
  });

  it('an empty image name is not remembered', () => {
    const m = new WarmMemory();
    m.observe('i-1', '');
    assert.equal(m.withImage(''), undefined);
  });
});
