/**
 * The simulator's `--plot`: a self-contained SVG (no scripts, no external
 * fonts or styles) of a run's timeline. Top panel: VMs by worker state,
 * stacked. Bottom panel: containers queued and running. The output depends
 * only on the input, so identical runs give identical files.
 */

export interface TimelineSample {
  /** ms since start */
  t: number;
  /** worker state -> count, e.g. unknown, booting, idle, running, shutdown, hold */
  vms: Record<string, number>;
  queued: number;
  running: number;
}

/** Stacking order (bottom first) and colours of the states the worker pool reports; others follow, sorted. */
const STATE_COLORS: ReadonlyArray<[string, string]> = [
  ['running', '#2e7d32'],
  ['idle', '#9ccc65'],
  ['booting', '#42a5f5'],
  ['unknown', '#b0bec5'],
  ['hold', '#ffb300'],
  ['drain', '#8d6e63'],
  ['shutdown', '#e57373'],
];
const EXTRA_COLORS = ['#7e57c2', '#26a69a', '#ec407a', '#5c6bc0', '#d4e157', '#78909c'];
const QUEUED_COLOR = '#c62828';
const RUNNING_COLOR = '#1565c0';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const TIME_STEPS = [1, 2, 5, 10, 15, 30].map((s) => s * SECOND)
  .concat([1, 2, 5, 10, 15, 30].map((m) => m * MINUTE))
  .concat([1, 2, 3, 4, 6, 12, 24, 48, 72, 168].map((h) => h * HOUR));

export function escapeXML(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A coordinate with at most one decimal, so output is compact and stable. */
const n = (x: number) => String(Math.round(x * 10) / 10);

const count = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) && x > 0 ? x : 0);

/** "0", "45s", "30m", "2h", "1h30m": tick labels. */
export function formatTick(ms: number): string {
  if (ms === 0) return '0';
  const h = Math.floor(ms / HOUR);
  const m = Math.floor((ms % HOUR) / MINUTE);
  const s = Math.round((ms % MINUTE) / SECOND);
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}` || `${ms}ms`;
}

/** A 1-2-5 step giving about `target` ticks up to max (whole numbers: these are counts). */
function niceStep(max: number, target: number): number {
  const raw = Math.max(1, max / target);
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const f of [1, 2, 5, 10]) if (f * p >= raw) return f * p;
  return 10 * p;
}

interface Point {
  t: number;
  v: number;
}

/** Per pixel column: the lowest and highest value, in the order they occurred, so spikes survive. */
function envelope(samples: readonly TimelineSample[], get: (s: TimelineSample) => number, bucketOf: (t: number) => number): Point[] {
  const out: Point[] = [];
  let i = 0;
  while (i < samples.length) {
    const b = bucketOf(samples[i].t);
    let lo = i;
    let hi = i;
    let j = i;
    for (; j < samples.length && bucketOf(samples[j].t) === b; j++) {
      if (get(samples[j]) < get(samples[lo])) lo = j;
      if (get(samples[j]) > get(samples[hi])) hi = j;
    }
    for (const k of lo === hi ? [lo] : [Math.min(lo, hi), Math.max(lo, hi)]) out.push({ t: samples[k].t, v: get(samples[k]) });
    i = j;
  }
  return out;
}

/** Per pixel column: the mean of each state's count (means keep the stack's total the mean total). */
function meanBuckets(samples: readonly TimelineSample[], states: readonly string[], bucketOf: (t: number) => number): Array<{ t: number; vs: number[] }> {
  const out: Array<{ t: number; vs: number[] }> = [];
  let i = 0;
  while (i < samples.length) {
    const b = bucketOf(samples[i].t);
    const sum = new Array<number>(states.length).fill(0);
    let ts = 0;
    let j = i;
    for (; j < samples.length && bucketOf(samples[j].t) === b; j++) {
      ts += samples[j].t;
      states.forEach((st, k) => (sum[k] += count(samples[j].vms[st])));
    }
    const c = j - i;
    out.push({ t: ts / c, vs: sum.map((x) => x / c) });
    i = j;
  }
  return out;
}

export function renderTimelineSVG(samples: TimelineSample[], opts: { title?: string; width?: number; height?: number } = {}): string {
  const W = Math.round(Math.min(20000, Math.max(360, opts.width ?? 960)));
  const H = Math.round(Math.min(20000, Math.max(260, opts.height ?? 540)));
  const title = opts.title ?? 'Simulation timeline';
  const m = { l: 56, r: 150, t: 44, b: 34 };
  const gap = 40;
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b - gap;
  const vmH = Math.round(ph * 0.58);
  const qH = ph - vmH;
  const vmTop = m.t;
  const qTop = m.t + vmH + gap;

  const data = samples.filter((s) => Number.isFinite(s.t)).sort((a, b) => a.t - b.t);
  const known = STATE_COLORS.map(([s]) => s);
  const seen = new Set<string>();
  for (const s of data) for (const [k, v] of Object.entries(s.vms ?? {})) if (count(v) > 0) seen.add(k);
  const extra = [...seen].filter((s) => !known.includes(s)).sort();
  const states = [...known.filter((s) => seen.has(s)), ...extra];
  const color = (s: string) => STATE_COLORS.find(([k]) => k === s)?.[1] ?? EXTRA_COLORS[extra.indexOf(s) % EXTRA_COLORS.length];

  const t0 = Math.min(0, data[0]?.t ?? 0);
  let t1 = data.length ? data[data.length - 1].t : 0;
  if (t1 <= t0) t1 = t0 + MINUTE;
  const x = (t: number) => m.l + ((t - t0) / (t1 - t0)) * pw;
  // Downsample to one bucket per pixel column when there are more samples than columns.
  const bucketOf = data.length > pw ? (t: number) => Math.min(pw - 1, Math.floor(((t - t0) / (t1 - t0)) * pw)) : (t: number) => t;

  const stacks = meanBuckets(data, states, bucketOf);
  const queued = envelope(data, (s) => count(s.queued), bucketOf);
  const running = envelope(data, (s) => count(s.running), bucketOf);

  const vmMax = Math.max(1, ...stacks.map((p) => p.vs.reduce((a, b) => a + b, 0)));
  const qMax = Math.max(1, ...queued.map((p) => p.v), ...running.map((p) => p.v));
  const vmStep = niceStep(vmMax, 4);
  const qStep = niceStep(qMax, 4);
  const vmTopVal = Math.ceil(vmMax / vmStep) * vmStep;
  const qTopVal = Math.ceil(qMax / qStep) * qStep;
  const yVM = (v: number) => vmTop + vmH - (v / vmTopVal) * vmH;
  const yQ = (v: number) => qTop + qH - (v / qTopVal) * qH;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXML(title)}</title>`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${m.l}" y="24" font-size="15" font-weight="bold">${escapeXML(title)}</text>`,
  );

  // Time ticks: the 1-2-5-ish step giving at most one label per ~80 px.
  const span = t1 - t0;
  const maxTicks = Math.max(2, Math.floor(pw / 80));
  const tStep = TIME_STEPS.find((s) => span / s <= maxTicks) ?? Math.ceil(span / maxTicks / (168 * HOUR)) * 168 * HOUR;
  const timeTicks: number[] = [];
  for (let t = Math.ceil(t0 / tStep) * tStep; t <= t1 + 1e-9; t += tStep) timeTicks.push(t);

  const panel = (top: number, h: number, label: string, step: number, topVal: number, y: (v: number) => number) => {
    out.push(`<g class="panel">`);
    for (let v = 0; v <= topVal; v += step) {
      out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${n(y(v))}" y2="${n(y(v))}" stroke="#e0e0e0"/>`);
      out.push(`<text x="${m.l - 6}" y="${n(y(v) + 4)}" text-anchor="end">${v}</text>`);
    }
    for (const t of timeTicks) {
      out.push(`<line x1="${n(x(t))}" x2="${n(x(t))}" y1="${top + h}" y2="${top + h + 4}" stroke="#616161"/>`);
      out.push(`<text x="${n(x(t))}" y="${top + h + 16}" text-anchor="middle">${escapeXML(formatTick(t))}</text>`);
    }
    out.push(`<rect x="${m.l}" y="${top}" width="${pw}" height="${h}" fill="none" stroke="#616161"/>`);
    out.push(`<text x="${m.l + 4}" y="${top - 6}" font-weight="bold">${escapeXML(label)}</text>`);
    out.push(`</g>`);
  };
  panel(vmTop, vmH, 'VMs by state', vmStep, vmTopVal, yVM);
  panel(qTop, qH, 'Containers', qStep, qTopVal, yQ);

  // Stacked areas, bottom state first.
  const lower = new Array<number>(stacks.length).fill(0);
  states.forEach((st, k) => {
    const upper = stacks.map((p, i) => lower[i] + p.vs[k]);
    if (stacks.length === 1) {
      // One sample: a bar across the panel, as there is no span to draw over.
      out.push(`<rect x="${m.l}" y="${n(yVM(upper[0]))}" width="${pw}" height="${n(yVM(lower[0]) - yVM(upper[0]))}" fill="${color(st)}"><title>${escapeXML(st)}</title></rect>`);
    } else if (stacks.length > 1) {
      const top = stacks.map((p, i) => `${n(x(p.t))},${n(yVM(upper[i]))}`);
      const bottom = stacks.map((p, i) => `${n(x(p.t))},${n(yVM(lower[i]))}`).reverse();
      out.push(`<path d="M${top.join('L')}L${bottom.join('L')}Z" fill="${color(st)}" stroke="none"><title>${escapeXML(st)}</title></path>`);
    }
    upper.forEach((u, i) => (lower[i] = u));
  });

  const line = (pts: Point[], stroke: string, dash: string, name: string) => {
    if (pts.length === 0) return;
    const coords = pts.length === 1 ? [`${m.l},${n(yQ(pts[0].v))}`, `${m.l + pw},${n(yQ(pts[0].v))}`] : pts.map((p) => `${n(x(p.t))},${n(yQ(p.v))}`);
    out.push(`<path d="M${coords.join('L')}" fill="none" stroke="${stroke}" stroke-width="1.5"${dash ? ` stroke-dasharray="${dash}"` : ''}><title>${escapeXML(name)}</title></path>`);
  };
  line(running, RUNNING_COLOR, '4 2', 'running');
  line(queued, QUEUED_COLOR, '', 'queued');

  if (data.length === 0) {
    out.push(`<text x="${n(m.l + pw / 2)}" y="${n(vmTop + vmH / 2)}" text-anchor="middle" fill="#757575">no samples</text>`);
  }

  // Legend, right of the panels.
  const lx = m.l + pw + 16;
  let ly = vmTop + 10;
  out.push(`<g class="legend">`);
  for (const st of [...states].reverse()) {
    out.push(`<rect x="${lx}" y="${ly - 9}" width="12" height="12" fill="${color(st)}"/>`);
    out.push(`<text x="${lx + 18}" y="${ly + 1}">${escapeXML(st)}</text>`);
    ly += 18;
  }
  ly = qTop + 10;
  for (const [name, stroke, dash] of [['queued', QUEUED_COLOR, ''], ['running', RUNNING_COLOR, '4 2']]) {
    out.push(`<line x1="${lx}" x2="${lx + 12}" y1="${ly - 3}" y2="${ly - 3}" stroke="${stroke}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    out.push(`<text x="${lx + 18}" y="${ly + 1}">containers ${name}</text>`);
    ly += 18;
  }
  out.push(`</g>`);
  out.push(`<text x="${n(m.l + pw / 2)}" y="${H - 4}" text-anchor="middle" fill="#616161">time since start</text>`);
  out.push(`</svg>`);
  return out.join('\n') + '\n';
}
