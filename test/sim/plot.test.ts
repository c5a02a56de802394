import assert from 'node:assert/strict';
import { renderTimelineSVG, type TimelineSample } from '../../src/sim/plot.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * Checks the SVG is well-formed XML as far as a plot needs: one root <svg>,
 * every tag closed in order, attributes quoted, no stray '<' or '&' in text.
 */
function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  let roots = 0;
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<|&(?!(?:amp|lt|gt|quot|#\d+);)/g;
  let m: RegExpExecArray | null;
  let last = 0;
  while ((m = re.exec(svg))) {
    assert.ok(m[2], `stray ${JSON.stringify(m[0])} at ${m.index}: ${svg.slice(m.index - 40, m.index + 40)}`);
    assert.equal(svg.slice(last, m.index).includes('>'), false, `stray '>' before ${m.index}`);
    last = re.lastIndex;
    const [, close, name, , self] = m;
    if (close) assert.equal(stack.pop(), name, `</${name}> closes the wrong tag`);
    else if (!self) {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) roots++;
  }
  assert.deepEqual(stack, [], 'unclosed tags');
  assert.equal(roots, 1, 'one root element');
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.doesNotMatch(svg, /<script|on[a-z]+="|href=/i);
}

/** A day sampled every `stepMs`: a queue that fills and drains, VMs that follow it. */
function day(stepMs: number): TimelineSample[] {
  const out: TimelineSample[] = [];
  for (let t = 0; t <= 24 * HOUR; t += stepMs) {
    const h = t / HOUR;
    const load = Math.round(100 * Math.sin((Math.PI * h) / 24) ** 2);
    out.push({ t, vms: { running: load, idle: 3, booting: h % 2 < 0.2 ? 10 : 0, shutdown: 1 }, queued: Math.round(50 * Math.abs(Math.sin(h))), running: 2 * load });
  }
  return out;
}

describe('sim plot', () => {
  it('draws a well-formed SVG with a legend entry for each state and both lines', () => {
    const svg = renderTimelineSVG(day(MINUTE), { title: 'day' });
    assertWellFormed(svg);
    for (const s of ['running', 'idle', 'booting', 'shutdown', 'containers queued', 'containers running', 'VMs by state']) {
      assert.ok(svg.includes(`>${s}</text>`), s);
    }
    assert.ok(svg.includes('<title>day</title>'));
    // Hour ticks over a day.
    for (const tick of ['0', '6h', '12h', '24h']) assert.ok(svg.includes(`>${tick}</text>`), tick);
  });

  it('uses minute ticks for a short run, and labels unknown states', () => {
    const s: TimelineSample[] = [0, 1, 2, 3, 4, 5].map((i) => ({ t: i * 2 * MINUTE, vms: { 'odd-state': 1 }, queued: i, running: 0 }));
    const svg = renderTimelineSVG(s);
    assertWellFormed(svg);
    assert.ok(svg.includes('>odd-state</text>'));
    assert.ok(svg.includes('>2m</text>') || svg.includes('>5m</text>'));
    assert.ok(!/>\d+h<\/text>/.test(svg));
  });

  it('escapes the title and state names', () => {
    const svg = renderTimelineSVG([{ t: 0, vms: { 'a<b&"c"': 2 }, queued: 0, running: 0 }, { t: MINUTE, vms: {}, queued: 1, running: 0 }], { title: `<script>alert('x')</script> & "q"` });
    assertWellFormed(svg);
    assert.ok(svg.includes('&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;'));
    assert.ok(svg.includes('a&lt;b&amp;&quot;c&quot;'));
  });

  it('gives identical output for identical input, whatever the sample order', () => {
    const s = day(5 * MINUTE);
    const a = renderTimelineSVG(s, { width: 800, height: 400 });
    assert.equal(renderTimelineSVG(day(5 * MINUTE), { width: 800, height: 400 }), a);
    assert.equal(renderTimelineSVG([...s].reverse(), { width: 800, height: 400 }), a);
    assert.match(a, /width="800" height="400"/);
  });

  it('draws empty input and a single sample', () => {
    const empty = renderTimelineSVG([]);
    assertWellFormed(empty);
    assert.ok(empty.includes('no samples'));
    const one = renderTimelineSVG([{ t: 5000, vms: { idle: 2 }, queued: 3, running: 0 }]);
    assertWellFormed(one);
    assert.ok(one.includes('>idle</text>'));
    assert.ok(!one.includes('NaN'));
  });

  it('downsamples thousands of samples to the width, keeping spikes', () => {
    const s = day(1000); // 86,401 samples
    s[40_000] = { ...s[40_000], queued: 5000 };
    const svg = renderTimelineSVG(s, { width: 1000 });
    assertWellFormed(svg);
    assert.ok(svg.length < 250_000, `${svg.length} bytes`);
    assert.ok(!svg.includes('NaN'));
    // The one-second spike sets the queue axis (0, 2000, 4000, 6000) rather than averaging away.
    assert.ok(svg.includes('>6000</text>'));
  });
});
