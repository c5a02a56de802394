/**
 * The daemon's heap over simulated hours, with the suggester on and off.
 *
 * The suggester runs a simulated dispatcher inside the daemon for each
 * suggestion, so whatever a simulated run leaves reachable grows the
 * daemon's heap for as long as containers wait. This runs the real
 * dispatcher (the test controller and the lame cloud in process, under a
 * manual clock; `test/fixtures/manual-stack.ts`) with a backlog of waiting
 * containers kept at MaxInstances (at least 3), so that containers wait past
 * the suggester's `After` all the time, and prints the heap after gc every
 * simulated hour. At the end it stops the dispatcher and drops its cloud,
 * checks that the dispatcher is collected (exit 1 if not: something outside
 * it still held it) and prints what it held. The test controller keeps
 * every container it was given (but no request log here), so the hourly heap
 * grows with the containers either way; the suggester's own share is the
 * difference between the two slopes.
 *
 *     node --import tsx bench/soak.ts [--hours 8] [--suggester both|on|off]
 *         [--max-instances 3] [--runtime 5m-15m] [--feed] [--http]
 *
 * --feed: the event feed too, from the test controller's websocket on a
 * loopback port. --http: the dispatcher's and crunch-run's requests through
 * their HTTP clients to the test controller, instead of in process.
 */
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { defaultSettings } from '../src/config/settings.js';
import { ManualStack } from '../test/fixtures/manual-stack.js';
import { collected, gc } from '../test/gc.js';

const MIN = 60_000;

const { values } = parseArgs({
  options: {
    hours: { type: 'string', default: '8' },
    feed: { type: 'boolean', default: false },
    http: { type: 'boolean', default: false },
    'max-instances': { type: 'string', default: '3' },
    runtime: { type: 'string', default: '5m-15m' },
    suggester: { type: 'string', default: 'both' },
  },
});
const hours = Number(values.hours);
if (!Number.isInteger(hours) || hours < 2) throw new Error(`--hours: expected an integer of at least 2, got ${values.hours}`);
const maxInstances = Number(values['max-instances']);
if (!Number.isInteger(maxInstances) || maxInstances < 1) throw new Error(`--max-instances: expected a positive integer, got ${values['max-instances']}`);
const [minRun, maxRun] = values.runtime.split('-');
if (!minRun || !maxRun) throw new Error(`--runtime: expected MIN-MAX durations such as 5m-15m, got ${values.runtime}`);
/** Containers kept waiting (Queued or Locked): enough that some always wait past the suggester's After. */
const BACKLOG = Math.max(3, maxInstances);

interface Soak {
  heapMiB: number[];
  /** Heap after gc at the end with the dispatcher running, and once it has stopped (the world stays). */
  endMiB: number;
  stoppedMiB: number;
  /** The stopped dispatcher was collected: nothing outside it still held it. */
  released: boolean;
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
  const s = new ManualStack({ params: { MinRunTime: minRun, MaxRunTime: maxRun }, logStream: sink, logLevel: 'debug', maxRequestLog: 1 });
  (s.cluster.Containers.CloudVMs as { MaxInstances: number }).MaxInstances = maxInstances;
  if (values.feed || values.http) await s.controller.start();
  // The test controller's event feed over a real socket.
  if (values.feed) (s.cluster.Services.Websocket as { ExternalURL: string }).ExternalURL = `${s.controller.url}/websocket`;
  // The dispatcher's requests through its own HTTP client, and crunch-run's (the lame cloud has an in-process route only for the stack's own URL).
  if (values.http) (s.cluster.Services.Controller as { ExternalURL: string }).ExternalURL = `${s.controller.url}/`;
  const settings = defaultSettings();
  await s.start({ settings: { ...settings, Suggestions: { ...settings.Suggestions, Enable: suggest, After: MIN } }, overHTTP: values.http });
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
  const endMiB = heapMiB.at(-1)!;
  const dispatcher = new WeakRef(s.dispatcher);
  // Stopped, its cloud dropped, and the stack's reference to it let go; the test controller (the world) stays.
  await s.close();
  (s as { dispatcher?: unknown }).dispatcher = undefined;
  const released = await collected(dispatcher);
  const stoppedMiB = process.memoryUsage().heapUsed / 2 ** 20;
  if (values.feed || values.http) await s.controller.stop();
  return { heapMiB, endMiB, stoppedMiB, released, completed, rounds, wallS };
}

/** Least-squares slope of the hourly samples from hour 1 on (hour 0 includes start-up), MiB per hour. */
function slope(ys: readonly number[]): number {
  const pts = ys.slice(1).map((y, i) => [i + 1, y] as const);
  const mx = pts.reduce((a, [x]) => a + x, 0) / pts.length;
  const my = pts.reduce((a, [, y]) => a + y, 0) / pts.length;
  return pts.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / pts.reduce((a, [x]) => a + (x - mx) ** 2, 0);
}

const results: Array<[string, Soak]> = [];
const modes = { off: [false], on: [true], both: [false, true] }[values.suggester];
if (!modes) throw new Error(`--suggester: expected off, on or both, got ${values.suggester}`);
for (const suggest of modes) results.push([suggest ? 'suggester on' : 'suggester off', await soak(suggest)]);
for (const [name, r] of results) {
  console.log(
    `${name}: ${r.completed} containers completed in ${hours} h simulated (${r.wallS.toFixed(0)} s wall), ${r.rounds} suggestion rounds; ` +
      `heap after gc by hour ${r.heapMiB.map((x) => x.toFixed(1)).join(' ')} MiB; slope ${slope(r.heapMiB).toFixed(2)} MiB/h; ` +
      (r.released ? `the dispatcher held ${(r.endMiB - r.stoppedMiB).toFixed(1)} MiB at the end (freed once stopped)` : 'the stopped dispatcher was NOT collected'),
  );
}
if (results.length === 2) {
  const [off, on] = results.map(([, r]) => slope(r.heapMiB));
  console.log(`the suggester's share of the growth: ${(on - off).toFixed(2)} MiB/h`);
}
// Something outside a stopped dispatcher still holding it is a leak: fail.
if (results.some(([, r]) => !r.released)) process.exitCode = 1;
