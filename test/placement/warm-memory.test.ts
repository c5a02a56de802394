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
  it('keeps per VM only the images and inputs that fit the bytes learnt, least recently used out, and says how deep an image is', () => {
    // PDHs sized as the scheduler sizes images: 80 + 42 per 64 MiB block of manifest.
    const gib = (n: number, c: string) => `${c.repeat(32)}+${80 + 42 * 16 * n}`;
    const [a, b, c] = [gib(4, 'a'), gib(2, 'b'), gib(8, 'c')];
    const m = new WarmMemory();
    m.observe('i-1', a, [], 0);
    m.observe('i-1', b, [], 10);
    m.observe('i-1', c, [], 20);
    m.observe('i-2', a, [], 0);
    assert.equal(m.depthOf('i-1', a, 100), 14 * 2 ** 30, 'a and the two used after it');
    assert.equal(m.depthOf('i-1', c, 100), 8 * 2 ** 30);
    assert.equal(m.depthOf('i-1', c, 15), undefined, 'there only since after 15: its pull may be going on');
    assert.equal(m.bytesKept, Infinity);
    m.limitBytes(14 * 2 ** 30);
    assert.equal(m.level('i-1', a), 0, 'a did not fit: forgotten');
    assert.equal(m.level('i-1', b), 1);
    assert.equal(m.level('i-2', a), 1, 'alone on i-2, it fits');
    assert.deepEqual([...(m.withImage(a) ?? [])], ['i-2']);
    m.limitBytes(1);
    assert.equal(m.bytesKept, 2 ** 30, 'never below 1 GiB');
  });

  it('forgets an input that does not fit the bytes learnt as it does an image, index included', () => {
    const gib = (n: number, c: string) => `${c.repeat(32)}+${80 + 42 * 16 * n}`;
    const [a, x, b, y] = [gib(4, 'a'), gib(4, 'd'), gib(8, 'b'), gib(1, 'e')];
    const m = new WarmMemory();
    m.observe('i-1', a, [x], 0);
    m.observe('i-1', b, [y], 10);
    m.limitBytes(10 * 2 ** 30);
    assert.equal(m.level('i-1', 'img-other', [x]), 0, 'x was used before b: out with a');
    assert.equal(m.withInput(x), undefined);
    assert.equal(m.level('i-1', 'img-other', [y]), 2, 'y fits with b');
    assert.deepEqual([...(m.withInput(y) ?? [])], ['i-1']);
  });

  it('only lowers what a VM is taken to keep: a later, larger drop does not raise it', () => {
    const m = new WarmMemory();
    m.limitBytes(14 * 2 ** 30);
    assert.equal(m.bytesKept, 14 * 2 ** 30 - 1);
    m.limitBytes(20 * 2 ** 30);
    assert.equal(m.bytesKept, 14 * 2 ** 30 - 1);
  });

  it('remembers as many as MAX_IMAGES_PER_VM images per VM before it forgets one', () => {
    const m = new WarmMemory();
    for (let i = 0; i < MAX_IMAGES_PER_VM; i++) m.observe('i-1', `img-${i}`);
    assert.equal(m.level('i-1', 'img-0'), 1);
    assert.deepEqual([...(m.withImage('img-0') ?? [])], ['i-1']);
  });
});
