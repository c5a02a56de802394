/**
 * The day's spend, forecast from the burn: what was spent since the start
 * of the UTC day (or since the dispatcher started, if later: the ledger
 * knows nothing before) plus the burn for the hours left until midnight UTC.
 *
 * The ledger keeps one running total since start-up; the total at the
 * start of the day is taken at the first observation of each new day, so
 * a day's spend counts from that observation (observations come at least
 * every scheduling pass, and the tracker charges up to now first).
 */

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** What the day has cost and will cost at the present burn. */
export interface DaySpend {
  /** Dollars since the start of the UTC day (or since start-up). */
  spentToday: number;
  /** spentToday + burn x hours left in the UTC day. */
  forecastToday: number;
}

/** The start of the UTC day that holds `t` (epoch ms). */
export function dayStart(t: number): number {
  return Math.floor(t / DAY_MS) * DAY_MS;
}

/** `spent` + `burnPerHour` over what is left of `now`'s UTC day. */
export function forecastDay(now: number, spent: number, burnPerHour: number): number {
  const left = dayStart(now) + DAY_MS - now;
  return spent + (burnPerHour * left) / HOUR_MS;
}

export class SpendForecast {
  private day: number;
  private totalAtDayStart = 0;

  /** @param startedAt when the ledger started counting (its total was 0 then) */
  constructor(startedAt: number) {
    this.day = dayStart(startedAt);
  }

  /** Takes the ledger's running total at `now`: a new day starts its count here. */
  observe(now: number, total: number): void {
    const d = dayStart(now);
    if (d > this.day) {
      this.day = d;
      this.totalAtDayStart = total;
    }
  }

  forecast(now: number, total: number, burnPerHour: number): DaySpend {
    this.observe(now, total);
    const spentToday = Math.max(0, total - this.totalAtDayStart);
    return { spentToday, forecastToday: forecastDay(now, spentToday, burnPerHour) };
  }
}
