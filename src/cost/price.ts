/**
 * Where a price comes from: the driver's price history when it has one (EC2
 * spot prices for a VM's type and zone), the configured `Price` otherwise.
 * On-demand types and drivers without history (GCE, whose spot prices are
 * list prices, and the lame cloud) keep their configured price.
 */
import type { Instance, PricePoint } from '../cloud/types.js';
import type { InstanceType } from '../config/types.js';

/** The price in effect at `now` in `history` (oldest first): the last point that started by then; undefined if none had. */
export function priceAt(history: readonly PricePoint[], now: number): number | undefined {
  for (let i = history.length - 1; i >= 0; i--) if (history[i]!.startTime <= now) return history[i]!.price;
  return undefined;
}

/** What `instance` (of `type`) costs per hour at `now`: its price history's current point, else the configured price. */
export function currentPrice(instance: Pick<Instance, 'priceHistory'>, type: InstanceType, now: number): number {
  const history = instance.priceHistory?.(type);
  return (history && priceAt(history, now)) ?? type.Price;
}

/**
 * `types` (cheapest configured first, as `chooseInstanceTypes` returns them)
 * ordered by what a new VM of each would cost now: `spotPrice(type)` for a
 * preemptible type whose driver quotes one at or below its configured Price,
 * the configured Price otherwise. The configured Price stays the cap: a spot
 * price above it never moves a type ahead. Ties keep the given order, so
 * without any quote the order is the reference's. Returns `types` itself
 * when nothing moves.
 */
export function orderByCurrentPrice(types: readonly InstanceType[], spotPrice: (type: InstanceType) => number | undefined): readonly InstanceType[] {
  if (!types.some((t) => t.Preemptible)) return types;
  let moved = false;
  const keyed = types.map((type, i) => {
    const quoted = type.Preemptible ? spotPrice(type) : undefined;
    const price = quoted !== undefined && quoted <= type.Price ? quoted : type.Price;
    if (price !== type.Price) moved = true;
    return { type, price, i };
  });
  if (!moved) return types;
  return keyed.sort((a, b) => a.price - b.price || a.i - b.i).map((k) => k.type);
}

/**
 * For one pass: eligible types ordered by what a new VM of each costs now
 * (`orderByCurrentPrice`: spot quotes within the configured Price), each
 * list ordered once and each type quoted once per pass. Without spot quotes
 * the lists come back as they are, in the reference's order.
 */
export function spotPriceOrder(pool: { spotPrice?(type: InstanceType): number | undefined }): (types: InstanceType[]) => readonly InstanceType[] {
  if (!pool.spotPrice) return (types) => types;
  const quotes = new Map<InstanceType, number | undefined>();
  const quote = (t: InstanceType): number | undefined => {
    if (!quotes.has(t)) quotes.set(t, pool.spotPrice!(t));
    return quotes.get(t);
  };
  const ordered = new Map<InstanceType[], readonly InstanceType[]>();
  return (types) => {
    let out = ordered.get(types);
    if (!out) {
      out = orderByCurrentPrice(types, quote);
      ordered.set(types, out);
    }
    return out;
  };
}
