/**
 * The dispatcher's own start and stop (src/dispatcher.ts), on the manual
 * stack: started once, stopped once however often stop() is called.
 */
import assert from 'node:assert/strict';
import { ManualStack } from './fixtures/manual-stack.js';

describe('dispatcher start and stop', function () {
  this.timeout(20_000);
  let stack: ManualStack;
  beforeEach(() => {
    stack = new ManualStack();
  });
  afterEach(() => stack.close());

  it('refuses a second start(): every loop would run twice', async () => {
    const d = await stack.start();
    assert.throws(() => d.start(), /dispatcher already started/);
    assert.equal(stack.logs.records().filter((r) => r.msg === 'dispatcher starting').length, 1);
  });

  it('stop() called again (the supervisor and the daemon both stop it) stops once and answers with the same promise', async () => {
    const d = await stack.start();
    await stack.run(1_000);
    const first = d.stop();
    const second = d.stop();
    assert.equal(second, first);
    await stack.stopDispatcher();
    await d.stop();
    assert.equal(stack.logs.records().filter((r) => r.msg === 'dispatcher stopped').length, 1);
  });

  it("stop() stops the cloud driver's instance set and closes the controller client (their timers and sockets would hold the process open)", async () => {
    const calls: string[] = [];
    await stack.start({
      beforeStart: (d) => {
        const stopSet = d.instanceSet.stop.bind(d.instanceSet);
        d.instanceSet.stop = () => {
          calls.push('instanceSet.stop');
          stopSet();
        };
        const close = d.client.close.bind(d.client);
        d.client.close = () => {
          calls.push('client.close');
          close();
        };
      },
    });
    await stack.run(1_000);
    await stack.stopDispatcher();
    assert.deepEqual(calls, ['instanceSet.stop', 'client.close']);
  });
});
