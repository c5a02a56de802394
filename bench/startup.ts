/**
 * Start-up time and memory of the command, compiled (`node
 * bin/arvados-dispatch-cloud.mjs`, what the Debian package and `npm start`
 * run) against the TypeScript sources through tsx (`node
 * scripts/from-sources.mjs`, what every release ran before issue 17). See
 * bench/README.md, "Compiled daemon (issue 17)".
 *
 *   npm run bench:startup            (builds dist/ first)
 *   node --import tsx bench/startup.ts [--runs N]
 *
 * Each run is a fresh process; the two kinds alternate so that a busy
 * machine slows both alike. Measured:
 * - `--help` and `check-config --config config.example.yml`: wall time and
 *   peak RSS from GNU time (`/usr/bin/time -f "%e %M"`).
 * - the daemon (lame cloud in-process, the in-process test controller): from
 *   spawn to ready, i.e. its /metrics showing a first successful cloud list
 *   and controller request (what it waits for before telling systemd
 *   READY=1), polled every 10 ms; RSS (VmRSS) then and 5 s later.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { daemonConfigHead } from '../src/harness/daemon-config.js';
import { createLogger, LineCollector } from '../src/log.js';
import { TestController } from '../src/testcontroller/index.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const KINDS = { compiled: 'bin/arvados-dispatch-cloud.mjs', tsx: 'scripts/from-sources.mjs' } as const;
type Kind = keyof typeof KINDS;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Wall seconds and peak RSS (KiB) of one run of the command. */
function timed(kind: Kind, args: string[]): { s: number; kib: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, KINDS[kind], ...args], { cwd: REPO, encoding: 'utf8' });
  const last = r.stderr.trim().split('\n').at(-1)!.split(' ');
  return { s: Number(last[0]), kib: Number(last[1]) };
}

function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One daemon run: ms from spawn to ready, RSS at ready and 5 s later (KiB). */
async function daemonRun(kind: Kind, dir: string, controllerURL: string, rootToken: string): Promise<{ ms: number; readyKiB: number; laterKiB: number }> {
  const token = randomBytes(16).toString('hex');
  const config = join(dir, `config-${randomBytes(4).toString('hex')}.yml`);
  // The management API on a free port, which the daemon logs when it listens.
  writeFileSync(config, `${daemonConfigHead({ rootToken, controllerURL, managementToken: token })}    Containers:
      CloudVMs:
        Driver: lame
        DriverParameters:
          CloudName: startup-${randomBytes(4).toString('hex')}
    InstanceTypes:
      small:
        VCPUs: 2
        RAM: 4GiB
        Price: 0.1
`);
  const started = performance.now();
  const proc = spawn(process.execPath, [KINDS[kind], '--config', config], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  try {
    for (;;) {
      if (performance.now() - started > 60_000) throw new Error(`${kind}: not ready within 60 s`);
      const port = /"msg":"listening".*"Listen":"127\.0\.0\.1:(\d+)"/.exec(out)?.[1];
      const text = !port ? '' : await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { Authorization: `Bearer ${token}` } })
        .then((r) => r.text())
        .catch(() => '');
      if (/driver_operations\{operation="List",error="0"\} [1-9]/.test(text) && /controller_requests_total\{outcome="ok"\} [1-9]/.test(text)) break;
      await sleep(10);
    }
    const ms = performance.now() - started;
    const readyKiB = rssKiB(proc.pid!);
    await sleep(5_000);
    return { ms, readyKiB, laterKiB: rssKiB(proc.pid!) };
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
  const runs = Number(values.runs);
  const rootToken = randomBytes(16).toString('hex');
  const controller = new TestController({ rootToken, logger: createLogger({ stream: new LineCollector(), level: 'error' }) });
  await controller.start();
  const dir = mkdtempSync(join(tmpdir(), 'adc-startup-'));
  const results: Record<Kind, { help: { s: number; kib: number }[]; check: { s: number; kib: number }[]; daemon: { ms: number; readyKiB: number; laterKiB: number }[] }> = {
    compiled: { help: [], check: [], daemon: [] },
    tsx: { help: [], check: [], daemon: [] },
  };
  try {
    for (let i = 0; i < runs; i++) {
      for (const kind of Object.keys(KINDS) as Kind[]) {
        results[kind].help.push(timed(kind, ['--help']));
        results[kind].check.push(timed(kind, ['check-config', '--config', 'config.example.yml']));
        results[kind].daemon.push(await daemonRun(kind, dir, controller.url, rootToken));
      }
    }
  } finally {
    await controller.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const mib = (kib: number) => (kib / 1024).toFixed(0);
  console.log(`medians of ${runs} runs each (node ${process.version})`);
  console.log('| | compiled | tsx |');
  console.log('| --- | --- | --- |');
  const row = (label: string, f: (k: Kind) => string) => console.log(`| ${label} | ${f('compiled')} | ${f('tsx')} |`);
  row('`--help`: wall', (k) => `${median(results[k].help.map((r) => r.s)).toFixed(2)} s`);
  row('`--help`: peak RSS', (k) => `${mib(median(results[k].help.map((r) => r.kib)))} MiB`);
  row('`check-config`: wall', (k) => `${median(results[k].check.map((r) => r.s)).toFixed(2)} s`);
  row('`check-config`: peak RSS', (k) => `${mib(median(results[k].check.map((r) => r.kib)))} MiB`);
  row('daemon: spawn to ready', (k) => `${(median(results[k].daemon.map((r) => r.ms)) / 1000).toFixed(2)} s`);
  row('daemon: RSS at ready', (k) => `${mib(median(results[k].daemon.map((r) => r.readyKiB)))} MiB`);
  row('daemon: RSS 5 s later', (k) => `${mib(median(results[k].daemon.map((r) => r.laterKiB)))} MiB`);
}

await main();
