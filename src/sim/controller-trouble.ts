/**
 * Controller trouble in a simulated run, on a schedule drawn from a seed:
 *
 * | kind     | what the controller does while it lasts                              |
 * | -------- | -------------------------------------------------------------------- |
 * | outage   | answers every request 503 (a restart, a proxy blip)                  |
 * | overload | answers a share of requests 503, the others normally (its request limiter) |
 *
 * Every request counts, the dispatcher's and crunch-run's alike, as on a
 * real cluster. The 503s come from the test controller's request hook, so
 * they are answered before authentication or routing, as a proxy would.
 */
import { Random } from '../../drivers/lame/random.js';
import type { Clock } from '../clock/index.js';
import type { TestController } from '../testcontroller/index.js';

export interface TroubleWindow {
  kind: 'outage' | 'overload';
  /** ms after the run starts. */
  from: number;
  until: number;
}

export interface TroubleSpec {
  /** The windows fall in [0, spanMs). */
  spanMs: number;
  outages: number;
  outageMs: [number, number];
  overloads: number;
  overloadMs: [number, number];
  /** The share of requests refused during an overload, in (0, 1]. */
  overloadShare: number;
}

/** The windows for `seed`, sorted by start; windows may overlap (an outage then wins). */
export function planTrouble(seed: number, spec: TroubleSpec): TroubleWindow[] {
  const rnd = new Random(seed);
  const windows: TroubleWindow[] = [];
  const draw = (kind: TroubleWindow['kind'], n: number, [min, max]: [number, number]): void => {
    for (let i = 0; i < n; i++) {
      const from = Math.floor(rnd.next() * spec.spanMs);
      windows.push({ kind, from, until: from + Math.round(rnd.between(min, max)) });
    }
  };
  draw('outage', spec.outages, spec.outageMs);
  draw('overload', spec.overloads, spec.overloadMs);
  return windows.sort((a, b) => a.from - b.from || (a.kind < b.kind ? -1 : 1));
}

/** Plays a trouble schedule on a test controller, counting the 503s it caused. */
export class ControllerTrouble {
  /** 503s answered, by the kind of window that caused them. */
  readonly refused = { outage: 0, overload: 0 };
  private readonly rnd: Random;

  constructor(
    private readonly clock: Clock,
    /** The instant the windows count from (epoch ms on `clock`). */
    private readonly start: number,
    readonly windows: TroubleWindow[],
    seed: number,
    private readonly overloadShare: number,
  ) {
    // Which requests an overload refuses: a stream of its own, so the schedule does not depend on the request count.
    this.rnd = new Random(seed ^ 0x0ff1_0ad5);
  }

  /** Installs the schedule as `controller`'s request hook (replacing any other hook). */
  install(controller: TestController): void {
    controller.setHook(() => {
      const kind = this.current();
      if (kind === undefined) return undefined;
      if (kind === 'overload' && !this.rnd.chance(this.overloadShare)) return undefined;
      this.refused[kind]++;
      return { status: 503, body: { errors: [`503 Service Unavailable (simulated controller ${kind})`] } };
    });
  }

  /** The trouble in force now: an outage if any outage window covers now, else an overload if one does. */
  current(): TroubleWindow['kind'] | undefined {
    const t = this.clock.now() - this.start;
    let kind: TroubleWindow['kind'] | undefined;
    for (const w of this.windows) {
      if (w.from > t) break;
      if (t < w.until) {
        if (w.kind === 'outage') return 'outage';
        kind = 'overload';
      }
    }
    return kind;
  }
}
