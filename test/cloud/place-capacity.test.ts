/**
 * The drivers' memory of places (zones, subnets) out of capacity for a type
 * in a market (src/cloud/place-capacity.ts), on its own: the driver tests
 * (ec2 subnet-capacity, gce zone-capacity, lame zones) exercise it through
 * creates, which cannot reach a clear of a place still marked, a second mark
 * of a place already marked, or more places than the memory keeps before it
 * prunes.
 */
import assert from 'node:assert/strict';
import { PLACE_CAPACITY_TTL_MS, PlaceCapacityMemory } from '../../src/cloud/place-capacity.js';
import { ManualClock } from '../../src/clock/index.js';
import { CAPACITY_ERROR_TTL_MS } from '../../src/worker/pool-config.js';

const type = (ProviderType: string, Preemptible = false) => ({ ProviderType, Preemptible });

describe('PlaceCapacityMemory', () => {
  let clock: ManualClock;
  beforeEach(() => {
    clock = new ManualClock();
  });

  it('keeps a place skipped exactly as long as the pool holds a type back, so that when the pool asks again every place is asked again', async () => {
    assert.equal(PLACE_CAPACITY_TTL_MS, CAPACITY_ERROR_TTL_MS);
    const memory = new PlaceCapacityMemory(clock);
    memory.mark(type('m5.large'), 'subnet-a');
    await clock.advance(CAPACITY_ERROR_TTL_MS - 1);
    assert.ok(memory.isOut(type('m5.large'), 'subnet-a'), 'still out just before the pool asks again');
    await clock.advance(1);
    assert.ok(!memory.isOut(type('m5.large'), 'subnet-a'), 'asked again when the pool asks again');
  });

  it('takes its TTL from the constructor when given one', async () => {
    const memory = new PlaceCapacityMemory(clock, 5_000);
    memory.mark(type('m5.large'), 'subnet-a');
    await clock.advance(4_999);
    assert.ok(memory.isOut(type('m5.large'), 'subnet-a'), 'out within the TTL given');
    await clock.advance(1);
    assert.ok(!memory.isOut(type('m5.large'), 'subnet-a'), 'expired after the TTL given, not the default');
  });

  it('a create that worked in a place clears it, for that type and market only', () => {
    const memory = new PlaceCapacityMemory(clock);
    const spot = type('m5.large', true);
    const onDemand = type('m5.large', false);
    memory.mark(spot, 'subnet-a');
    memory.mark(onDemand, 'subnet-a');
    memory.mark(spot, 'subnet-b');
    memory.clear(spot, 'subnet-a');
    assert.ok(!memory.isOut(spot, 'subnet-a'), 'cleared: the place has room again');
    assert.ok(memory.isOut(onDemand, 'subnet-a'), 'the other market in that place is still out');
    assert.ok(memory.isOut(spot, 'subnet-b'), 'another place is still out');
  });

  it('a second capacity error in a place still marked extends the memory from the second', async () => {
    const memory = new PlaceCapacityMemory(clock);
    memory.mark(type('m5.large'), 'subnet-a');
    await clock.advance(PLACE_CAPACITY_TTL_MS / 2);
    memory.mark(type('m5.large'), 'subnet-a');
    await clock.advance(PLACE_CAPACITY_TTL_MS / 2);
    assert.ok(memory.isOut(type('m5.large'), 'subnet-a'), 'out for a full TTL after the later error');
    await clock.advance(PLACE_CAPACITY_TTL_MS / 2);
    assert.ok(!memory.isOut(type('m5.large'), 'subnet-a'), 'expired a TTL after the later error');
  });

  it('does not confuse types and places whose names run together', () => {
    const memory = new PlaceCapacityMemory(clock);
    memory.mark(type('a'), 'bc');
    assert.ok(!memory.isOut(type('ab'), 'c'), 'type "ab" in place "c" is not type "a" in place "bc"');
    assert.ok(memory.isOut(type('a'), 'bc'), 'the place marked is out');
  });

  it('with more places marked than it keeps before pruning, forgets only the expired ones', async () => {
    const memory = new PlaceCapacityMemory(clock);
    const places = Array.from({ length: 1500 }, (_, i) => `zone-${i}`);
    for (const p of places.slice(0, 500)) memory.mark(type('old'), p);
    await clock.advance(PLACE_CAPACITY_TTL_MS);
    for (const p of places) memory.mark(type('new'), p);
    assert.deepEqual(
      places.filter((p) => !memory.isOut(type('new'), p)),
      [],
      'every place marked within the TTL is still out',
    );
    assert.ok(places.slice(0, 500).every((p) => !memory.isOut(type('old'), p)), 'the expired marks are not out');
  });
});
