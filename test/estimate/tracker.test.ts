import assert from 'node:assert/strict';
import type { Container, ContainerState } from '../../src/arvados/types.js';
import { RuntimeHistory } from '../../src/estimate/history.js';
import { OUTCOME_WAIT_MS, RuntimeTracker } from '../../src/estimate/tracker.js';

const MIN = 60_000;
const KEY = { image: 'img', vcpus: 1, ram: 2 ** 30 };

describe('RuntimeTracker', () => {
  let history: RuntimeHistory;
  let tracker: RuntimeTracker;
  let states: Map<string, ContainerState>;
  const get = (uuid: string): Container | undefined => (states.has(uuid) ? ({ uuid, state: states.get(uuid) } as Container) : undefined);
  const observe = (now: number, running: Array<[string, number]>): void => tracker.observe(now, new Map(running), get, () => KEY);

  beforeEach(() => {
    history = new RuntimeHistory({ minSamples: 1, defaultRuntimeMs: 99 * MIN });
    tracker = new RuntimeTracker(history);
    states = new Map();
  });

  it('learns the runtime of a container from its crunch-run start to its end, once the queue says Complete', () => {
    states.set('u', 'Running');
    observe(0, [['u', 0]]);
    observe(7 * MIN, []);
    // Crunch-run is gone but the queue has not caught up: nothing learnt yet.
    assert.equal(history.estimate(KEY).typical, 99 * MIN);
    states.set('u', 'Complete');
    observe(8 * MIN, []);
    assert.equal(history.estimate(KEY).typical, 7 * MIN);
  });

  it('takes a container the queue has dropped as finished', () => {
    states.set('u', 'Running');
    observe(0, [['u', 0]]);
    states.delete('u');
    observe(4 * MIN, []);
    assert.equal(history.estimate(KEY).typical, 4 * MIN);
  });

  it('records a requeued run as a lower bound for that container only, and learns nothing from a cancelled one', () => {
    states.set('u', 'Running');
    states.set('v', 'Running');
    observe(0, [
      ['u', 0],
      ['v', 0],
    ]);
    states.set('u', 'Queued');
    states.set('v', 'Cancelled');
    observe(5 * MIN, []);
    assert.equal(history.hasAttempt('u'), true);
    assert.equal(history.hasAttempt('v'), false);
    // Neither is a runtime: the default still stands.
    assert.equal(history.estimate(KEY).typical, 99 * MIN);
    // The bound lifts that container's estimate once it is above what is known.
    history.record(KEY, 2 * MIN, 0);
    assert.deepEqual(history.estimate(KEY, 'u'), { typical: 5 * MIN, low: 5 * MIN, high: 5 * MIN });
  });

  it('drops an ended run whose outcome never shows', () => {
    states.set('u', 'Running');
    observe(0, [['u', 0]]);
    observe(MIN, []);
    observe(MIN + OUTCOME_WAIT_MS, []);
    states.set('u', 'Complete');
    observe(MIN + OUTCOME_WAIT_MS + 1, []);
    assert.equal(history.estimate(KEY).typical, 99 * MIN);
  });

  it('takes a run that is missing from one look at the pool and then back as one run, learnt once', () => {
    states.set('u', 'Running');
    observe(0, [['u', 0]]);
    // The pool's probe missed crunch-run once; the queue still says Running.
    observe(2 * MIN, []);
    observe(3 * MIN, [['u', 0]]);
    // crunch-run set Complete before it exited: the queue says so while the pool still lists it.
    states.set('u', 'Complete');
    observe(9 * MIN, [['u', 0]]);
    observe(10 * MIN, []);
    // One run of 10 minutes: the 2 minutes up to the missed look are not a runtime.
    assert.equal(history.estimate(KEY).typical, 10 * MIN);
  });

  it('passes over a run whose runtime key is not known, running or ended', () => {
    states.set('u', 'Running');
    states.set('v', 'Running');
    const keyOf = (uuid: string) => (uuid === 'u' ? undefined : KEY);
    tracker.observe(0, new Map([['u', 0], ['v', 0]]), get, keyOf);
    states.set('u', 'Complete');
    states.set('v', 'Complete');
    tracker.observe(3 * MIN, new Map(), get, keyOf);
    assert.equal(history.estimate(KEY).typical, 3 * MIN);
  });
});
