/**
 * The daemon's heap over simulated hours, with the suggester on and off.
 *
 * The suggester runs a simulated dispatcher inside the daemon for each
 * suggestion, so whatever a simulated run leaves reachable grows the
 * daemon's heap for as long as containers wait. This runs the real
 * dispatcher (the test controller and the lame cloud in process, under a
 * manual clock; `test/fixtures/manual-stack.ts`) with MaxInstances 3 and a
 * backlog kept at three waiting containers of 5-15 min each (with `--feed`,
 * the test controller's event feed too, on a loopback port), so that
 * containers wait past the suggester's `After` all the time, and prints the
 * heap after gc every simulated hour. The test controller keeps every
 * container it was given (but no request log here), so the heap grows with
 * the containers either way; the suggester's own share is the difference
 * between the two slopes.
 *
 *     node --import tsx bench/soak.ts [--hours 8] [--feed]
 */
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { defaultSettings } from '../src/config/settings.js';
import { ManualStack } from '../test/fixtures/manual-stack.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MIN = 60_000;
const BACKLOG = 3;

const { values } = parseArgs({ options: { hours: { type: 'string', default: '8' }, feed: { type: 'boolean', default: false } } });
const hours = Number(values.hours);
if (!Number.isInteger(hours) || hours < 2) throw new Error(`--hours: expected an integer of at least 2, got ${values.hours}`);

interface Soak {
  heapMiB: number[];
  completed: number;
  rounds: number;
  wallS: number;
}

async function soak(suggest: boolean): Promise<Soak> {
  let rounds = 0;
  // The suggester says each round at debug level; nothing else is kept.
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      const line = chunk.toString();
      if (line.includes('"suggestions computed"') || line.includes('"no config change would help"')) rounds++;
      done();
    },
  });
  const s = new ManualStack({ params: { MinRunTime: '5m', MaxRunTime: '15m' }, logStream: sink, logLevel: 'debug', maxRequestLog: 1 });
  (s.cluster.Containers.CloudVMs as { MaxInstances: number }).MaxInstances = 3;
  if (values.feed) {
    // The test controller's event feed over a real socket (the API stays in process).
    await s.controller.start();
    (s.cluster.Services.Websocket as { ExternalURL: string }).ExternalURL = `${s.controller.url}/websocket`;
  }
  const settings = defaultSettings();
  await s.start({ settings: { ...settings, Suggestions: { ...settings.Suggestions, Enable: suggest, After: MIN } } });
  const wall0 = Date.now();
  const live = new Set<string>();
  let completed = 0;
  const heapMiB: number[] = [];
  gc();
  heapMiB.push(process.memoryUsage().heapUsed / 2 ** 20);
  for (let h = 0; h < hours; h++) {
    for (let m = 0; m < 60; m++) {
      let waiting = 0;
      for (const uuid of live) {
        const state = s.controller.get(uuid)?.state;
        if (state === 'Complete' || state === 'Cancelled') {
          live.delete(uuid);
          if (state === 'Complete') completed++;
        } else if (state === 'Queued' || state === 'Locked') waiting++;
      }
      for (; waiting < BACKLOG; waiting++) live.add(s.controller.addContainer({ priority: 1, command: ['true'], runtime_constraints: { vcpus: 2, ram: 1 << 30 } }).uuid);
      await s.run(MIN, 1000);
    }
    gc();
    heapMiB.push(process.memoryUsage().heapUsed / 2 ** 20);
  }
  const wallS = (Date.now() - wall0) / 1000;
  await s.close();
  if (values.feed) await s.controller.stop();
  return { heapMiB, completed, rounds, wallS };
}

/** Least-squares slope of the hourly samples from hour 1 on (hour 0 includes start-up), MiB per hour. */
function slope(ys: readonly number[]): number {
  const pts = ys.slice(1).map((y, i) => [i + 1, y] as const);
  const mx = pts.reduce((a, [x]) => a + x, 0) / pts.length;
  const my = pts.reduce((a, [, y]) => a + y, 0) / pts.length;
  return pts.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / pts.reduce((a, [x]) => a + (x - mx) ** 2, 0);
}

const results: Array<[string, Soak]> = [];
for (const suggest of [false, true]) results.push([suggest ? 'suggester on' : 'suggester off', await soak(suggest)]);
for (const [name, r] of results) {
  console.log(
    `${name}: ${r.completed} containers completed in ${hours} h simulated (${r.wallS.toFixed(0)} s wall), ${r.rounds} suggestion rounds; ` +
      `heap after gc by hour ${r.heapMiB.map((x) => x.toFixed(1)).join(' ')} MiB; slope ${slope(r.heapMiB).toFixed(2)} MiB/h`,
  );
}
const [off, on] = results.map(([, r]) => slope(r.heapMiB));
console.log(`the suggester's share of the growth: ${(on - off).toFixed(2)} MiB/h`);
