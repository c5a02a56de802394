import assert from 'node:assert/strict';
import { currentPrice, orderByCurrentPrice, priceAt } from '../../src/cost/price.js';
import type { InstanceType } from '../../src/config/types.js';

const type = (name: string, price: number, preemptible: boolean): InstanceType => ({
  Name: name,
  ProviderType: name.replace(/\..*/, ''),
  VCPUs: 2,
  RAM: 4 << 30,
  Scratch: 0,
  IncludedScratch: 0,
  AddedScratch: 0,
  Price: price,
  Preemptible: preemptible,
  GPU: { Stack: '', DriverVersion: '', HardwareTarget: '', DeviceCount: 0, VRAM: 0 },
});

describe('prices', () => {
  const spot = type('m5.spot', 0.1, true);

  it('takes the price history point in effect now, else the configured Price', () => {
    const history = [
      { startTime: 1000, price: 0.03 },
      { startTime: 2000, price: 0.04 },
      { startTime: 9000, price: 0.09 },
    ];
    assert.equal(priceAt(history, 500), undefined);
    assert.equal(priceAt(history, 2500), 0.04);
    // A point takes effect at its start time itself: the ledger charges from that instant on.
    assert.equal(priceAt(history, 2000), 0.04);
    assert.equal(priceAt(history, 1999), 0.03);
    assert.equal(priceAt(history, 1000), 0.03);
    assert.equal(currentPrice({ priceHistory: () => history }, spot, 2500), 0.04);
    assert.equal(currentPrice({ priceHistory: () => history }, spot, 500), 0.1);
    assert.equal(currentPrice({ priceHistory: () => [] }, spot, 2500), 0.1, 'on-demand, or no history yet');
    assert.equal(currentPrice({}, spot, 2500), 0.1, 'a driver without price history');
    assert.equal(currentPrice({ priceHistory: () => [{ startTime: 0, price: 0 }] }, spot, 1), 0, 'a free quote is a price');
  });

  it('orders eligible types by current spot price, with the configured Price as the cap', () => {
    const a = type('a.spot', 0.1, true);
    const b = type('b.spot', 0.12, true);
    const c = type('c', 0.13, false);
    const d = type('d.spot', 0.14, true);
    const quotes: Record<string, number> = { 'a.spot': 0.2, 'b.spot': 0.05, 'd.spot': 0.06 };
    const order = orderByCurrentPrice([a, b, c, d], (t) => quotes[t.Name]);
    // a's quote is above its cap: it stays at its configured 0.1, behind b and d.
    assert.deepEqual(order.map((t) => t.Name), ['b.spot', 'd.spot', 'a.spot', 'c']);
  });

  it('keeps the given order (the same array) without quotes or without preemptible types', () => {
    const types = [type('a.spot', 0.1, true), type('b.spot', 0.12, true)];
    assert.equal(orderByCurrentPrice(types, () => undefined), types);
    const onDemand = [type('a', 0.1, false), type('b', 0.12, false)];
    assert.equal(orderByCurrentPrice(onDemand, () => 0.01), onDemand);
  });
});
