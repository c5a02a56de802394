/** The lame cloud's hold/release hook (holdCreates, holdSetTags) on its own. */
import assert from 'node:assert/strict';
import { settle } from '../../../src/clock/index.js';
import { Gate } from '../../../drivers/lame/gate.js';

describe('lame gate', () => {
  it('holds callers until release; a second hold while held changes nothing', async () => {
    const gate = new Gate();
    assert.equal(gate.passing(), undefined, 'open: no wait');
    gate.hold();
    let passed = 0;
    void gate.passing()!.then(() => passed++);
    gate.hold();
    void gate.passing()!.then(() => passed++);
    await settle();
    assert.equal(passed, 0);
    gate.release();
    await settle();
    assert.equal(passed, 2, 'one release lets every waiter through');
  });

  it('a waiter keeps waiting when the gate is held again before it gets through', async () => {
    const gate = new Gate();
    gate.hold();
    let passed = false;
    void gate.passing()!.then(() => (passed = true));
    gate.release();
    gate.hold();
    await settle();
    assert.equal(passed, false);
    gate.release();
    await settle();
    assert.equal(passed, true);
  });
});
