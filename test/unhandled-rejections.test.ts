/**
 * The root-hook plugin (`test/fixtures/root-hooks.ts`) sees every unhandled
 * rejection and names the test that made it. This test makes one on
 * purpose and then forgets it, so the run does not fail because of it.
 */
import assert from 'node:assert/strict';
import { forgetUnhandledRejections, unhandledRejections } from './fixtures/root-hooks.js';

describe('unhandled rejections in tests', () => {
  it('are recorded with the test that was running', async () => {
    const before = unhandledRejections().length;
    const seen = new Promise<void>((resolve) => process.once('unhandledRejection', () => resolve()));
    void Promise.reject(new Error('made on purpose'));
    await seen;
    const mine = unhandledRejections().slice(before);
    forgetUnhandledRejections(before);
    assert.equal(mine.length, 1);
    assert.equal(mine[0].test, 'unhandled rejections in tests are recorded with the test that was running');
    assert.equal((mine[0].reason as Error).message, 'made on purpose');
  });
});
