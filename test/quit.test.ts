/**
 * SIGQUIT as the reference's Go runtime answers it: a dump on stderr, then
 * exit status 2 without a graceful stop. Here with an emitter for the
 * signal, a buffer for stderr and a recorded exit; test/daemon.test.ts sends
 * the real signal to the real daemon.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { ManualClock, settle } from '../src/clock/index.js';
import { createLogger, LineCollector } from '../src/log.js';
import { Worker } from 'node:worker_threads';
import { diagnosticReport, EXIT_QUIT, handleQuitSignal, QUIT_FLUSH_MS } from '../src/quit.js';

const TOKEN = 'v2/zzzzz-gj3su-000000000000000/averyverysecrettokenvalue';

/** One stream for both the log and the report, as under systemd: the order they reach it is the order in the journal. */
class Stderr extends Writable {
  text = '';
  writes = 0;
  /** When false, a write never completes (a pipe nobody reads). */
  constructor(private readonly completes = true) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.text += chunk.toString();
    this.writes++;
    if (this.completes) cb();
  }
}

function setup(opts: { completes?: boolean; getReport?: () => object } = {}) {
  const signals = new EventEmitter();
  const stderr = new Stderr(opts.completes ?? true);
  const clock = new ManualClock();
  const exits: number[] = [];
  const logger = createLogger({ stream: stderr, level: 'info' });
  const report = opts.getReport ?? (() => ({ header: { reportVersion: 3 }, javascriptStack: { message: 'here' }, environmentVariables: { HOME: '/root', ARVADOS_API_TOKEN: TOKEN } }));
  const remove = handleQuitSignal({ logger, secrets: [TOKEN, 'short'], signals, stderr, clock, exit: (c) => exits.push(c), getReport: report });
  return { signals, stderr, clock, exits, remove };
}

describe('SIGQUIT', () => {
  it('logs where the report goes, writes it to stderr, then exits 2', async () => {
    const s = setup();
    s.signals.emit('SIGQUIT');
    await settle();
    assert.deepEqual(s.exits, [EXIT_QUIT]);
    assert.equal(EXIT_QUIT, 2);
    const [first, ...rest] = s.stderr.text.split('\n');
    const line = JSON.parse(first) as Record<string, unknown>;
    assert.equal(line.level, 'warning');
    assert.match(String(line.msg), /^SIGQUIT: writing a diagnostic report to stderr, then exiting with status 2/);
    assert.equal(line.Report, 'stderr');
    const report = JSON.parse(rest.join('\n')) as { header: unknown; environmentVariables: Record<string, string> };
    assert.deepEqual(report.header, { reportVersion: 3 });
    // Values of the environment are redacted (cloud credentials live there), names kept.
    assert.deepEqual(report.environmentVariables, { HOME: '[REDACTED]', ARVADOS_API_TOKEN: '[REDACTED]' });
    assert.ok(!s.stderr.text.includes(TOKEN));
  });

  it('answers the first SIGQUIT only, and can be removed', async () => {
    const s = setup();
    s.signals.emit('SIGQUIT');
    s.signals.emit('SIGQUIT');
    await settle();
    assert.deepEqual(s.exits, [EXIT_QUIT]);
    assert.equal(s.stderr.text.match(/"msg":"SIGQUIT/g)?.length, 1);
    s.remove();
    assert.equal(s.signals.listenerCount('SIGQUIT'), 0);
  });

  it('exits after QUIT_FLUSH_MS when stderr does not take the report (a pipe nobody reads)', async () => {
    const s = setup({ completes: false });
    s.signals.emit('SIGQUIT');
    await settle();
    assert.deepEqual(s.exits, []);
    await s.clock.advance(QUIT_FLUSH_MS);
    assert.deepEqual(s.exits, [EXIT_QUIT]);
  });

  it('still exits 2, saying why, when the report cannot be built', async () => {
    const s = setup({
      getReport: () => {
        throw new Error('no report today');
      },
    });
    s.signals.emit('SIGQUIT');
    await settle();
    assert.deepEqual(s.exits, [EXIT_QUIT]);
    assert.match(s.stderr.text, /"msg":"SIGQUIT: could not build the diagnostic report".*"error":"no report today"/);
  });

  it("diagnosticReport scrubs secrets wherever they are, as Node's writeReport lays it out (indented JSON)", () => {
    const text = diagnosticReport({ header: { commandLine: ['node', `--token=${TOKEN}`] } }, [TOKEN]);
    assert.ok(!text.includes(TOKEN));
    assert.match(text, /^\{\n {2}"header": \{\n/);
    assert.ok(text.endsWith('}\n'));
    // Node's own report, as the daemon takes it.
    const real = JSON.parse(diagnosticReport(process.report.getReport(), [])) as Record<string, unknown>;
    assert.ok(real.header && real.javascriptStack && real.libuv);
  });

  it('diagnosticReport redacts the environment of every thread, workers of workers included', async () => {
    const secret = 'AKIAsecretvalue123456';
    const nested = {
      environmentVariables: { HOME: '/root' },
      workers: [{ environmentVariables: { AWS_SECRET_ACCESS_KEY: secret }, workers: [{ environmentVariables: { PGPASSWORD: secret } }] }],
    };
    const text = diagnosticReport(nested);
    assert.ok(!text.includes(secret), text);
    assert.ok(!text.includes('/root'));
    const parsed = JSON.parse(text) as { workers: Array<{ environmentVariables: Record<string, string>; workers: Array<{ environmentVariables: Record<string, string> }> }> };
    assert.deepEqual(Object.keys(parsed.workers[0]!.environmentVariables), ['AWS_SECRET_ACCESS_KEY'], 'the names stay');
    assert.deepEqual(Object.keys(parsed.workers[0]!.workers[0]!.environmentVariables), ['PGPASSWORD']);
    // And Node's own report with a worker thread running, whose environment it lists.
    process.env.QUIT_TEST_SECRET = secret;
    const worker = new Worker('setInterval(() => {}, 1000)', { eval: true });
    try {
      await new Promise((resolve) => worker.once('online', resolve));
      const real = process.report.getReport() as unknown as { workers: unknown[] };
      assert.ok(real.workers.length > 0 && JSON.stringify(real).includes(secret), "Node's report holds the worker's environment");
      assert.ok(!diagnosticReport(real).includes(secret));
    } finally {
      delete process.env.QUIT_TEST_SECRET;
      await worker.terminate();
    }
  });

  it("with Node's own report and the log elsewhere: the line in the log, the report (libuv handles and all) on stderr", async () => {
    const signals = new EventEmitter();
    const logs = new LineCollector();
    const stderr = new Stderr();
    const exits: number[] = [];
    handleQuitSignal({ logger: createLogger({ stream: logs }), signals, stderr, exit: (c) => exits.push(c), clock: new ManualClock() });
    signals.emit('SIGQUIT');
    await settle();
    assert.deepEqual(exits, [EXIT_QUIT]);
    assert.equal(logs.records()[0]?.Signal, 'SIGQUIT');
    assert.ok((JSON.parse(stderr.text) as { libuv: unknown[] }).libuv.length > 0);
  });

  it('scrubs the secrets it is given from the report, wherever they appear (a token on the command line)', async () => {
    const s = setup({ getReport: () => ({ header: { commandLine: ['node', 'arvados-dispatch-cloud', `--token=${TOKEN}`] } }) });
    s.signals.emit('SIGQUIT');
    await settle();
    assert.deepEqual(s.exits, [EXIT_QUIT]);
    assert.match(s.stderr.text, /"commandLine"/);
    assert.ok(!s.stderr.text.includes(TOKEN), 'the token is scrubbed');
  });
});
