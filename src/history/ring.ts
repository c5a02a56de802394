/**
 * A fixed-size ring of numbers for the daemon's in-memory history: once it
 * holds `capacity` values, each push drops the oldest, so memory stays the
 * same however long the daemon runs. Values live in a Float64Array (8 bytes
 * each, no boxed numbers for the garbage collector to walk).
 */
export class Ring {
  private readonly buf: Float64Array;
  /** Index of the oldest value. */
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    this.buf = new Float64Array(capacity);
  }

  /** How many values it holds now: at most `capacity`. */
  get length(): number {
    return this.count;
  }

  /**
   * Appends a value, dropping the oldest when full. null means "no value for
   * this sample" (a gap in a chart); it is kept as NaN, and so is a NaN pushed.
   */
  push(v: number | null): void {
    this.buf[(this.head + this.count) % this.capacity] = v === null ? Number.NaN : v;
    if (this.count < this.capacity) this.count++;
    else this.head = (this.head + 1) % this.capacity;
  }

  /** The values, oldest first, with each gap (NaN) as null. */
  values(): Array<number | null> {
    const out = new Array<number | null>(this.count);
    for (let i = 0; i < this.count; i++) {
      const v = this.buf[(this.head + i) % this.capacity]!;
      out[i] = Number.isNaN(v) ? null : v;
    }
    return out;
  }
}
