/**
 * Controller load of the queue's poll: list requests and response bytes per
 * poll at 1k, 10k and 100k queued containers, each with realistic mounts (a
 * CWL input document of ~4 KiB in a `json` mount, two `tmp` mounts, a
 * collection), for our queue in steady state, beside the reference's load
 * for the same queue. See bench/README.md for the figures.
 *
 *   npm run bench:poll
 *   node --import tsx bench/poll-load.ts [--only N] [--polls K]
 *
 * What runs: the in-process test controller (`src/testcontroller/`) on its
 * HTTP server, so the bodies are real JSON over a real socket; our real
 * `ContainerQueueImpl` and `ControllerClient`, on a manual clock (the poll
 * loop's waits are skipped: `update()` is called back to back). Response
 * bytes are the JSON bodies' lengths as the client receives them.
 *
 * - **ours**: the queue first takes in the backlog (every container's
 *   details read once by uuid; done over the in-process transport to keep
 *   the run short, its figures are reported as "intake"), then K polls are
 *   measured over HTTP.
 * - **reference**: a small function that issues the reference's queries
 *   (lib/dispatchcloud/container/queue.go at 913e363) against the same
 *   controller: ours-locked by uuid with its seven selected attributes, then
 *   the queued list by `priority desc` with offset paging until a page
 *   brings the count of non-supervisors to 100, then the containers it
 *   tracks that neither list returned, by `uuid in` in batches of 20. One
 *   warm-up poll (its intake, not counted), then K polls measured. Its
 *   per-new-container mounts GET is part of the intake, not of steady state.
 * - **before**: one poll as this repository's queue made it before the
 *   sweep (every page of both lists, selecting mounts), for scale.
 */
import { spawnSync } from 'node:child_process';
import { getHeapStatistics } from 'node:v8';
import { fileURLToPath } from 'node:url';
import { ControllerClient } from '../src/arvados/client.js';
import { Transport, type RawRequest, type RawResponse, type RawTransport } from '../src/arvados/http.js';
import type { Container } from '../src/arvados/types.js';
import { ManualClock } from '../src/clock/index.js';
import { loadConfigText } from '../src/config/index.js';
import type { Cluster } from '../src/config/types.js';
import { silentLogger } from '../src/log.js';
import { ContainerQueueImpl } from '../src/queue/queue.js';
import { TestController } from '../src/testcontroller/index.js';
import { Random } from '../drivers/lame/random.js';

// The 100k backlog's records (with their mounts) need more than the default heap.
const HEAP_MB = 8192;
if (getHeapStatistics().heap_size_limit < (HEAP_MB - 512) * 2 ** 20) {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [`--max-old-space-size=${HEAP_MB}`, '--import', 'tsx', self, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const SIZES = arg('--only') ? [Number(arg('--only'))] : [1_000, 10_000, 100_000];
const POLLS = Number(arg('--polls') ?? 5);
/** Containers Running under our lock, as on a busy cluster. */
const OURS = 200;
const ROOT_TOKEN = 'pollLoadBenchRootToken0123456789abcdef';
const GiB = 2 ** 30;

// ---- the cluster -------------------------------------------------------------
function benchCluster(url: string): Cluster {
  const types = [1, 2, 4, 8, 16, 32, 64]
    .map((v) => `      m${v}: {VCPUs: ${v}, RAM: ${v * 4}GiB, Price: ${(v * 0.05).toFixed(2)}, IncludedScratch: ${v * 32}GiB}`)
    .join('\n');
  const yaml = `Clusters:\n  zzzzz:\n    SystemRootToken: ${ROOT_TOKEN}\n    Services:\n      Controller:\n        ExternalURL: ${url}\n    InstanceTypes:\n${types}\n`;
  return loadConfigText(yaml).cluster;
}

// ---- realistic container records ---------------------------------------------
/** An integer in [lo, hi]. */
function int(rnd: Random, lo: number, hi: number): number {
  return Math.floor(rnd.between(lo, hi + 1));
}

function pdh(rnd: Random): string {
  let h = '';
  for (let i = 0; i < 32; i++) h += '0123456789abcdef'[int(rnd, 0, 15)];
  return `${h}+${int(rnd, 100, 5_000_000)}`;
}

/** The input document arvados-cwl-runner puts in a `json` mount: ~4 KiB for a typical step. */
function cwlInput(rnd: Random): Record<string, unknown> {
  const file = (name: string): Record<string, unknown> => ({
    class: 'File',
    location: `keep:${pdh(rnd)}/${name}`,
    basename: name,
    nameroot: name.replace(/\..*$/, ''),
    nameext: name.replace(/^[^.]*/, ''),
    size: int(rnd, 1_000, 20_000_000_000),
    secondaryFiles: [{ class: 'File', location: `keep:${pdh(rnd)}/${name}.idx`, basename: `${name}.idx` }],
  });
  const doc: Record<string, unknown> = {
    sample_id: `SAMPLE-${int(rnd, 1, 99999)}`,
    threads: int(rnd, 1, 16),
    reference: file('GRCh38_full_analysis_set_plus_decoy_hla.fa'),
    known_sites: [file('dbsnp_146.hg38.vcf.gz'), file('Mills_and_1000G_gold_standard.indels.hg38.vcf.gz')],
    reads: Array.from({ length: 8 }, (_, i) => file(`lane${i + 1}_R${(i % 2) + 1}.fastq.gz`)),
    intervals: { class: 'Directory', location: `keep:${pdh(rnd)}/intervals`, basename: 'intervals' },
  };
  return doc;
}

function seed(ctl: TestController, n: number): void {
  const rnd = new Random(20260807);
  const image = `${'a'.repeat(32)}+${int(rnd, 200, 5000)}`;
  const add = (state: 'Queued' | 'Running', priority: number): void => {
    const vcpus = [1, 1, 2, 2, 4, 8, 16][int(rnd, 0, 6)];
    ctl.addContainer({
      state,
      priority,
      container_image: image,
      runtime_constraints: {
        API: false,
        vcpus,
        ram: vcpus * 2 * GiB,
        keep_cache_ram: 0,
        keep_cache_disk: 2 * GiB,
        gpu: { stack: '', driver_version: '', hardware_target: [], device_count: 0, vram: 0 },
      },
      scheduling_parameters: { partitions: [], preemptible: false, max_run_time: 0, supervisor: int(rnd, 1, 50) === 1 },
      mounts: {
        '/var/lib/cwl/cwl.input.json': { kind: 'json', content: cwlInput(rnd) },
        '/var/spool/cwl': { kind: 'tmp', capacity: int(rnd, 1, 32) * GiB },
        '/tmp': { kind: 'tmp', capacity: int(rnd, 1, 8) * GiB },
        '/keep/reference': { kind: 'collection', portable_data_hash: pdh(rnd), writable: false },
        stdout: { kind: 'file', path: '/var/spool/cwl/stdout.txt' },
      },
    });
  };
  for (let i = 0; i < OURS; i++) add('Running', int(rnd, 1, 1000));
  for (let i = 0; i < n; i++) add('Queued', int(rnd, 1, 1000));
}

// ---- counting what the controller sends ----------------------------------------
interface Load {
  lists: number;
  gets: number;
  listBytes: number;
  bytes: number;
}
const zero = (): Load => ({ lists: 0, gets: 0, listBytes: 0, bytes: 0 });

/** A transport that counts requests and response bytes, over HTTP or in-process. */
class Counting implements RawTransport {
  load = zero();
  over: RawTransport;
  constructor(
    readonly http: RawTransport,
    readonly inProcess: RawTransport,
  ) {
    this.over = http;
  }
  async send(req: RawRequest): Promise<RawResponse> {
    const res = await this.over.send(req);
    const bytes = Buffer.byteLength(res.text);
    const method = req.headers['X-Http-Method-Override'] ?? req.method;
    const list = method === 'GET' && req.url.pathname === '/arvados/v1/containers';
    if (list) {
      this.load.lists++;
      this.load.listBytes += bytes;
    } else if (method === 'GET' && req.url.pathname.startsWith('/arvados/v1/containers/')) {
      this.load.gets++;
    }
    this.load.bytes += bytes;
    return res;
  }
  close(): void {
    this.http.close();
  }
}

// ---- the reference's poll, from its rules ---------------------------------------
const REF_SELECT = ['uuid', 'state', 'priority', 'runtime_constraints', 'container_image', 'scheduling_parameters', 'created_at'];

/** The reference's queue, as far as its requests go: what it tracks, and one poll. */
class ReferencePoll {
  private readonly tracked = new Set<string>();
  constructor(
    private readonly client: ControllerClient,
    private readonly token: string,
  ) {}

  async poll(): Promise<void> {
    const next = new Map<string, Container>();
    for (const c of await this.byUuid([['locked_by_uuid', '=', this.token]], 1000)) next.set(c.uuid, c);
    // The queued list: offset paging, stopping once 100 non-supervisors are in.
    let nonSuper = 0;
    for (let offset = 0; ; ) {
      const page = await this.client.listContainers({
        filters: [
          ['state', '=', 'Queued'],
          ['priority', '>', '0'],
        ],
        select: REF_SELECT,
        order: 'priority desc',
        limit: 1000,
        offset,
      });
      if (page.items.length === 0) break;
      for (const c of page.items) {
        next.set(c.uuid, c);
        if (!c.scheduling_parameters?.supervisor) nonSuper++;
      }
      if (nonSuper >= 100) break;
      offset += page.items.length;
    }
    // Tracked, not final, not returned: by uuid in batches of 20, each paged to an empty page.
    const missing = [...this.tracked].filter((u) => !next.has(u));
    for (let i = 0; i < missing.length; i += 20) {
      for (const c of await this.byUuid([['uuid', 'in', missing.slice(i, i + 20)]], undefined)) next.set(c.uuid, c);
    }
    for (const [uuid, c] of next) {
      if (this.tracked.has(uuid)) continue;
      // addEnt: a new container's mounts, by uuid.
      await this.client.getContainer(uuid, ['mounts']);
      if (c.state !== 'Complete' && c.state !== 'Cancelled') this.tracked.add(uuid);
    }
  }

  private async byUuid(filters: Array<[string, string, unknown]>, limit: number | undefined): Promise<Container[]> {
    const out: Container[] = [];
    for (let last = ''; ; ) {
      const page = await this.client.listContainers({
        filters: last === '' ? filters : [...filters, ['uuid', '>', last]],
        select: REF_SELECT,
        order: 'uuid',
        limit,
      });
      if (page.items.length === 0) return out;
      out.push(...page.items);
      last = page.items[page.items.length - 1].uuid;
    }
  }
}

/** One poll as this repository's queue made it before the sweep: every page of both lists, mounts selected. */
async function beforePoll(client: ControllerClient, token: string): Promise<void> {
  const select = [...REF_SELECT, 'lock_count', 'locked_by_uuid', 'mounts', 'runtime_status'];
  const all = async (filters: Array<[string, string, unknown]>): Promise<void> => {
    for (let last = ''; ; ) {
      const page = await client.listContainers({ filters: last === '' ? filters : [...filters, ['uuid', '>', last]], select, order: 'uuid', limit: 1000 });
      if (page.items.length === 0) return;
      last = page.items[page.items.length - 1].uuid;
    }
  };
  await all([['locked_by_uuid', '=', token]]);
  // The queued list was paged by a (priority, uuid) keyset; by uuid it is the same pages and bytes.
  await all([
    ['state', '=', 'Queued'],
    ['priority', '>', 0],
  ]);
}

// ---- one backlog size ---------------------------------------------------------
interface Row {
  n: number;
  ours: Load;
  ref: Load;
  before: Load;
  intake: { polls: number; load: Load; seconds: number };
  sweepCycle: number;
  seconds: number;
}

const per = (l: Load, k: number): Load => ({ lists: l.lists / k, gets: l.gets / k, listBytes: l.listBytes / k, bytes: l.bytes / k });

async function measure(n: number): Promise<Row> {
  const started = performance.now();
  const clock = new ManualClock();
  const ctl = new TestController({ rootToken: ROOT_TOKEN });
  await ctl.start();
  try {
    seed(ctl, n);
    const transport = new Counting(new Transport(clock, { insecure: false, maxSockets: 16 }), ctl.inProcessTransport());
    const client = new ControllerClient({ baseURL: ctl.url, token: ROOT_TOKEN, clock, logger: silentLogger(), transport });
    const cluster = benchCluster(ctl.url);
    const queue = new ContainerQueueImpl({ client, cluster, clock, logger: silentLogger() });

    // Intake: until every container is an entry, then one more sweep cycle, in-process.
    transport.over = transport.inProcess;
    const intakeStarted = performance.now();
    let polls = 0;
    while (queue.entries().entries.size < n + OURS && polls < 2000) {
      await queue.update();
      polls++;
    }
    if (queue.entries().entries.size < n + OURS) throw new Error(`intake incomplete after ${polls} polls`);
    const intake = { polls, load: transport.load, seconds: (performance.now() - intakeStarted) / 1000 };
    const sweepCycle = Math.floor(n / 2000) + 1;
    for (let i = 0; i < sweepCycle; i++) await queue.update();

    // Steady state, over HTTP.
    transport.over = transport.http;
    transport.load = zero();
    for (let i = 0; i < POLLS; i++) await queue.update();
    const ours = per(transport.load, POLLS);

    const token = await client.currentTokenUuid();
    const ref = new ReferencePoll(client, token);
    transport.over = transport.inProcess;
    await ref.poll();
    transport.over = transport.http;
    transport.load = zero();
    for (let i = 0; i < POLLS; i++) await ref.poll();
    const refLoad = per(transport.load, POLLS);

    transport.load = zero();
    await beforePoll(client, token);
    const before = transport.load;
    client.close();
    return { n, ours, ref: refLoad, before, intake, sweepCycle, seconds: (performance.now() - started) / 1000 };
  } finally {
    await ctl.stop();
  }
}

// ---- report -------------------------------------------------------------------
const kib = (b: number): string => (b / 1024).toLocaleString('en-US', { maximumFractionDigits: 0 });
const mib = (b: number): string => (b / 2 ** 20).toLocaleString('en-US', { maximumFractionDigits: 1 });
const num = (x: number): string => x.toLocaleString('en-US', { maximumFractionDigits: 1 });

const rows: Row[] = [];
for (const n of SIZES) {
  const row = await measure(n);
  rows.push(row);
  console.error(`measured ${n.toLocaleString('en-US')} queued in ${row.seconds.toFixed(1)} s`);
}
console.log(`Per poll in steady state (${POLLS} polls averaged), ${OURS} containers Running under our lock, over HTTP:\n`);
console.log('| queued | ours: list requests | ours: list KiB | ours: GETs | reference: list requests | reference: list KiB | ratio (requests, KiB) | before: list requests | before: list KiB | sweep cycle (polls) |');
console.log('|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.n.toLocaleString('en-US')} | ${num(r.ours.lists)} | ${kib(r.ours.listBytes)} | ${num(r.ours.gets)} | ${num(r.ref.lists)} | ${kib(r.ref.listBytes)} | ` +
      `${(r.ours.lists / r.ref.lists).toFixed(2)}, ${(r.ours.listBytes / r.ref.listBytes).toFixed(2)} | ${num(r.before.lists)} | ${kib(r.before.listBytes)} | ${r.sweepCycle} |`,
  );
}
console.log('\nIntake (our queue taking in the whole backlog, every container read once by uuid):\n');
console.log('| queued | polls | list requests | GETs | MiB received | seconds (in-process) |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const l = r.intake.load;
  console.log(`| ${r.n.toLocaleString('en-US')} | ${r.intake.polls} | ${l.lists} | ${l.gets} | ${mib(l.bytes)} | ${r.intake.seconds.toFixed(1)} |`);
}
