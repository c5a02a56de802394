import assert from 'node:assert/strict';
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/clock/index.js';
import { loadConfigText } from '../../src/config/index.js';
import { dispatcherLogger } from '../../src/dispatcher.js';
import { isJournalStream } from '../../src/journal-stream.js';
import { LineCollector, RateLimitedLog, REDACTED, addSecret, createLogger, removeSecret, resolveLevel } from '../../src/log.js';

const MINIMAL_CONFIG = 'Clusters:\n  zzzzz:\n    SystemRootToken: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n';

const TOKEN = 'v2/zzzzz-gj3su-000000000000000/3kbp9yq0r7dglyzdsxk1wl6gmf8eakhjm7kxl5g1b5e5ml0u0h';

function capture(opts: Parameters<typeof createLogger>[0] = {}) {
  const out = new LineCollector();
  const log = createLogger({ ...opts, stream: out });
  return { out, log };
}

describe('log', () => {
  let savedLevel: string | undefined;
  beforeEach(() => {
    savedLevel = process.env.LOG_LEVEL;
    delete process.env.LOG_LEVEL;
  });
  afterEach(() => {
    if (savedLevel === undefined) delete process.env.LOG_LEVEL;
    else process.env.LOG_LEVEL = savedLevel;
  });

  it("writes logrus's JSON lines, as the reference does: level, msg, time with nine fraction digits, and fields", () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 4, 16, 43, 33, 123));
    const { out, log } = capture({ clock });
    log.info('instance created', { Instance: 'i-1', InstanceType: 'm5.large' });
    const [rec] = out.records();
    assert.deepEqual(rec, { time: '2026-12-04T16:43:33.123000000Z', level: 'info', msg: 'instance created', Instance: 'i-1', InstanceType: 'm5.large' });
  });

  it("the daemon's logger puts PID and ClusterID on every line, children's too, as the reference's service logger", () => {
    const { cluster } = loadConfigText(MINIMAL_CONFIG);
    const out = new LineCollector();
    const log = dispatcherLogger(cluster, undefined, out);
    log.info('listening');
    log.child({ Instance: 'i-1' }).warn('probe failed');
    for (const rec of out.records()) {
      assert.equal(rec.PID, process.pid, JSON.stringify(rec));
      assert.equal(rec.ClusterID, cluster.ClusterID, JSON.stringify(rec));
    }
    assert.equal(out.records().length, 2);
    assert.equal(out.records()[1].Instance, 'i-1');
  });

  it('keeps the fields of a line whose message holds a printf token (%s, %c, ...)', () => {
    const { out, log } = capture();
    log.warn('listening on http://[fe80::1%scope]:9006 100%c done', { ContainerUUID: 'zzzzz-dz642-000000000000001', Field: 'priority' });
    log.child({ Component: 'queue' }).info('50%s', { State: 'Queued' });
    const [a, b] = out.records();
    assert.equal(a.msg, 'listening on http://[fe80::1%scope]:9006 100%c done');
    assert.equal(a.ContainerUUID, 'zzzzz-dz642-000000000000001');
    assert.equal(a.Field, 'priority');
    assert.deepEqual([b.msg, b.Component, b.State], ['50%s', 'queue', 'Queued']);
  });

  it('names levels as logrus does: warning, trace', () => {
    const { out, log } = capture({ level: 'trace' });
    log.warn('careful');
    log.silly('every detail');
    assert.deepEqual(
      out.records().map((r) => [r.level, r.msg]),
      [
        ['warning', 'careful'],
        ['trace', 'every detail'],
      ],
    );
  });

  it('renames fields that would clash with time and msg, as logrus does', () => {
    const { out, log } = capture();
    log.info('x', { msg: 'field', time: 5 });
    const [rec] = out.records();
    assert.equal(rec.msg, 'x');
    assert.equal(rec['fields.msg'], 'field');
    assert.equal(rec['fields.time'], 5);
  });

  it("writes logrus's text lines with SystemLogs.Format text: fixed keys first, fields sorted, values quoted when needed", () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 4, 16, 43, 33, 5));
    const { out, log } = capture({ clock, format: 'text' });
    log.warn('instance gone', { Instance: 'i-1', Count: 2, Reason: 'idle for 1m' });
    assert.deepEqual(out.lines, ['time="2026-12-04T16:43:33.005000000Z" level=warning msg="instance gone" Count=2 Instance=i-1 Reason="idle for 1m"']);
  });

  it('writes an empty field in text lines as logrus does, with nothing after the "="', () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 4, 16, 43, 33, 5));
    const { out, log } = capture({ clock, format: 'text' });
    log.info('request', { reqForwardedFor: '', reqQuery: '', reqMethod: 'GET' });
    assert.deepEqual(out.lines, ['time="2026-12-04T16:43:33.005000000Z" level=info msg=request reqForwardedFor= reqMethod=GET reqQuery=']);
  });

  it('child loggers carry their fields', () => {
    const { out, log } = capture();
    log.child({ ContainerUUID: 'zzzzz-dz642-000000000000001' }).child({ State: 'Locked' }).warn('lock held');
    const [rec] = out.records();
    assert.equal(rec.ContainerUUID, 'zzzzz-dz642-000000000000001');
    assert.equal(rec.State, 'Locked');
  });

  it('takes the level from config, with LOG_LEVEL overriding it', () => {
    assert.equal(resolveLevel('debug'), 'debug');
    assert.equal(resolveLevel('bogus'), 'info');
    assert.equal(resolveLevel('trace'), 'silly');
    assert.equal(resolveLevel('warning'), 'warn');
    assert.equal(resolveLevel('fatal'), 'error');
    process.env.LOG_LEVEL = 'warn';
    assert.equal(resolveLevel('debug'), 'warn');
    const { out, log } = capture({ level: 'debug' });
    log.info('hidden');
    log.warn('shown');
    assert.deepEqual(
      out.records().map((r) => r.msg),
      ['shown'],
    );
  });

  it('does not even read the fields of a call below the level, on the logger or its children', () => {
    const { out, log } = capture({ level: 'info' });
    let reads = 0;
    const fields = {
      get Expensive(): string {
        reads++;
        return 'x';
      },
    };
    log.debug('dropped', fields);
    log.child({ Component: 'c' }).debug('dropped too', fields);
    log.log('debug', 'dropped as well', fields);
    assert.equal(reads, 0);
    log.child({ Component: 'c' }).info('kept', fields);
    log.log('info', 'kept too', fields);
    assert.equal(reads, 2);
    assert.deepEqual(
      out.records().map((r) => [r.msg, r.Expensive]),
      [
        ['kept', 'x'],
        ['kept too', 'x'],
      ],
    );
  });

  it("writes an error as the reference does: one string, the message and each cause's not already in it", () => {
    const { out, log } = capture();
    const err = new Error('create failed', { cause: new Error('InsufficientInstanceCapacity', { cause: new Error('InsufficientInstanceCapacity') }) });
    const wrapped = new Error('listing failed: timeout', { cause: new Error('timeout') });
    log.error('cloud call failed', { error: err, other: wrapped, nested: { inner: new Error('deep') } });
    log.error(new Error('top-level error'));
    log.warn('connect failed', { error: new AggregateError([new Error('connect ECONNREFUSED ::1:80'), new Error('connect ECONNREFUSED 127.0.0.1:80')]) });
    const [a, b, c] = out.records() as Array<Record<string, unknown>>;
    assert.equal(a.error, 'create failed: InsufficientInstanceCapacity');
    assert.equal(a.other, 'listing failed: timeout');
    assert.deepEqual(a.nested, { inner: 'deep' });
    assert.equal(a.errorStack, undefined, 'no stack at info');
    assert.equal(b.msg, 'top-level error');
    assert.equal(b.stack, undefined, 'no stack at info');
    assert.equal(c.error, 'connect ECONNREFUSED ::1:80; connect ECONNREFUSED 127.0.0.1:80');
    // A programming error says which: its class leads the text.
    log.error('pass failed', { error: new TypeError("Cannot read properties of undefined (reading 'id')") });
    assert.equal(out.records()[3].error, "TypeError: Cannot read properties of undefined (reading 'id')");
  });

  it('adds the stacks at debug: errorStack beside a field, stack on a line logged from an error', () => {
    const { out, log } = capture({ level: 'debug', secrets: [TOKEN] });
    log.warn('cloud call failed', { error: new Error(`create failed with ${TOKEN}`) });
    log.error(new Error('top-level error'));
    const [a, b] = out.records() as Array<Record<string, string>>;
    assert.equal(a.error, `create failed with ${REDACTED}`);
    assert.match(a.errorStack, /^Error: create failed with \[REDACTED\]\n\s+at /);
    assert.ok(!JSON.stringify(a).includes(TOKEN));
    assert.match(b.stack, /top-level error\n\s+at /);
  });

  it('never writes a secret: not in messages, fields, nested objects, errors, or secret-named fields', () => {
    const { out, log } = capture({ level: 'debug', secrets: [TOKEN] });
    const child = log.child({ Component: 'controller-client' });
    // The shapes the request-logging paths produce: a request line, headers, a body, an error.
    child.debug(`GET https://ctrl/arvados/v1/containers?api_token=${TOKEN}`);
    child.debug('request', { headers: { Authorization: `Bearer ${TOKEN}`, Accept: 'application/json' } });
    child.debug('crunch-run config', { stdin: JSON.stringify({ Env: { ARVADOS_API_TOKEN: TOKEN } }) });
    child.debug('env', { ARVADOS_API_TOKEN: 'short', SystemRootToken: 'anything at all' });
    child.error('request failed', { error: new Error(`401 for token ${TOKEN}`) });
    const secret = 'f3a9c1e2b4d5f6a7b8c9d0e1f2a3b4c5d6e7f8a9';
    addSecret(child, secret);
    log.info(`instance secret is ${secret}`);
    const text = out.lines.join('\n');
    assert.ok(!text.includes(TOKEN), text);
    assert.ok(!text.includes('3kbp9yq0r7dglyzdsxk1wl6gmf8eakhjm7kxl5g1b5e5ml0u0h'));
    assert.ok(!text.includes(secret));
    assert.ok(!text.includes('anything at all'));
    const recs = out.records() as Array<Record<string, any>>;
    assert.equal(recs[1].headers.Authorization, REDACTED);
    assert.equal(recs[1].headers.Accept, 'application/json');
    assert.equal(recs[3].ARVADOS_API_TOKEN, REDACTED);
    assert.equal(recs.length, 6);
  });

  it('stops scrubbing a removed secret, and keeps scrubbing the others', () => {
    const { out, log } = capture();
    const vmSecret = 'a3f5c2e1b4d6a7f8c9e0b1a2d3c4e5f6';
    const other = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';
    addSecret(log, vmSecret);
    addSecret(log, other);
    log.info(`secrets ${vmSecret} ${other}`);
    removeSecret(log.child({ Instance: 'i-1' }), vmSecret);
    log.info(`secrets ${vmSecret} ${other}`);
    removeSecret(log, other);
    log.info(`secrets ${vmSecret} ${other}`);
    assert.deepEqual(
      out.records().map((r) => r.msg),
      [`secrets ${REDACTED} ${REDACTED}`, `secrets ${vmSecret} ${REDACTED}`, `secrets ${vmSecret} ${other}`],
    );
  });

  it('rate-limits repeated warnings and says how many were held back', async () => {
    const clock = new ManualClock(0);
    const { out, log } = capture();
    const rl = new RateLimitedLog(log, clock, 60_000);
    for (let i = 0; i < 100; i++) rl.warn('probe failed', { Instance: 'i-1' });
    rl.warn('other warning');
    await clock.advance(60_000);
    rl.warn('probe failed', { Instance: 'i-1' });
    const recs = out.records();
    assert.deepEqual(
      recs.map((r) => [r.msg, r.Suppressed]),
      [
        ['probe failed', undefined],
        ['other warning', undefined],
        ['probe failed', 99],
      ],
    );
  });

  it('scrubs a secret of eight characters or more, and leaves a shorter value alone', () => {
    const { out, log } = capture({ secrets: ['k3y8char', 'k3y7chr'] });
    log.info('keys k3y8char k3y7chr');
    assert.equal(out.records()[0].msg, `keys ${REDACTED} k3y7chr`);
  });

  it('scrubs the whole of a secret that begins with another secret', () => {
    const short = 'a3f5c2e1b4d6';
    const long = `${short}a7f8c9e0b1a2d3c4`;
    const { out, log } = capture({ secrets: [short, long] });
    log.info(`secrets ${long} ${short}`);
    assert.equal(out.records()[0].msg, `secrets ${REDACTED} ${REDACTED}`);
  });

  it('scrubs a secret holding characters that regular expressions treat specially', () => {
    const secret = 'pa$$w0rd+(x).*?';
    const { out, log } = capture({ secrets: [secret] });
    log.info(`password ${secret}`);
    assert.equal(out.records()[0].msg, `password ${REDACTED}`);
  });

  it('redacts fields named for a password, a private key or a cookie, nested ones too', () => {
    const { out, log } = capture();
    log.info('settings', { DBPassword: 'hunter2hunter2', Cookie: 'session=abc', nested: { private_key: 'key text', SSHPrivateKey: 'key text' } });
    const [rec] = out.records() as Array<Record<string, any>>;
    assert.deepEqual([rec.DBPassword, rec.Cookie, rec.nested.private_key, rec.nested.SSHPrivateKey], [REDACTED, REDACTED, REDACTED, REDACTED]);
  });

  it('redacts by name only a field whose name ends with a secret word: a token uuid is shown', () => {
    const { out, log } = capture();
    log.info('event feed token renewed', { TokenUUID: 'zzzzz-gj3su-000000000000001', nested: { SecretTag: 'InstanceSecret' } });
    const [rec] = out.records() as Array<Record<string, any>>;
    assert.equal(rec.TokenUUID, 'zzzzz-gj3su-000000000000001');
    assert.equal(rec.nested.SecretTag, 'InstanceSecret');
  });

  it('writes an object field as its JSON, quoted, in text lines', () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 4, 16, 43, 33, 5));
    const { out, log } = capture({ clock, format: 'text' });
    log.info('draining', { Draining: { reason: 'idle' } });
    assert.deepEqual(out.lines, [String.raw`time="2026-12-04T16:43:33.005000000Z" level=info msg=draining Draining="{\"reason\":\"idle\"}"`]);
  });

  it('says nothing of held-back lines when none were held back', async () => {
    const clock = new ManualClock(0);
    const { out, log } = capture();
    const rl = new RateLimitedLog(log, clock, 60_000);
    rl.warn('probe failed');
    await clock.advance(60_000);
    rl.warn('probe failed');
    assert.deepEqual(
      out.records().map((r) => 'Suppressed' in r),
      [false, false],
    );
  });

  it('rate-limited errors are logged at error', () => {
    const { out, log } = capture();
    new RateLimitedLog(log, new ManualClock(0)).error('cannot reach the cloud');
    assert.deepEqual(
      out.records().map((r) => [r.level, r.msg]),
      [['error', 'cannot reach the cloud']],
    );
  });

  it('names a programming error\'s class once, when its message already starts with it', () => {
    const { out, log } = capture();
    log.error('pass failed', { error: new TypeError('TypeError: x is not a function') });
    assert.equal(out.records()[0].error, 'TypeError: x is not a function');
  });

  it("writes every cause of a chain of wrapped errors, outermost first", () => {
    const { out, log } = capture();
    const err = new Error('create failed', { cause: new Error('request failed', { cause: new Error('connect ETIMEDOUT') }) });
    log.error('cloud call failed', { error: err });
    assert.equal(out.records()[0].error, 'create failed: request failed: connect ETIMEDOUT');
  });

  it("starts each line with its syslog priority for journald when asked, in both formats; the line after it is unchanged", () => {
    for (const format of ['json', 'text'] as const) {
      const clock = new ManualClock(Date.UTC(2026, 11, 8));
      const plain = capture({ clock, format, level: 'debug' });
      const journal = capture({ clock, format, level: 'debug', journalPriority: true });
      for (const { log } of [plain, journal]) {
        log.error('e');
        log.warn('w');
        log.info('i');
        log.debug('d');
      }
      assert.deepEqual(journal.out.lines.map((l) => l.slice(0, 3)), ['<3>', '<4>', '<6>', '<7>'], format);
      assert.deepEqual(journal.out.lines.map((l) => l.slice(3)), plain.out.lines, format);
      assert.ok(plain.out.lines.every((l) => !l.startsWith('<')), format);
    }
  });

  it('knows the journal stream by JOURNAL_STREAM naming the descriptor\'s device and inode, and nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'adc-journal-stream-'));
    const fd = openSync(join(dir, 'out'), 'w');
    const other = openSync(join(dir, 'other'), 'w');
    try {
      const st = fstatSync(fd, { bigint: true });
      const named = `${st.dev}:${st.ino}`;
      assert.equal(isJournalStream(fd, { JOURNAL_STREAM: named }), true);
      // A child that inherited the variable with another stream, a shell's pipe: not the journal.
      assert.equal(isJournalStream(other, { JOURNAL_STREAM: named }), false);
      for (const value of [undefined, '', 'x:y', `${st.dev}`, `${st.dev}:${st.ino}:1`, ` ${named}`]) {
        assert.equal(isJournalStream(fd, value === undefined ? {} : { JOURNAL_STREAM: value }), false, String(value));
      }
      assert.equal(isJournalStream(9999, { JOURNAL_STREAM: named }), false, 'a closed descriptor');
    } finally {
      closeSync(fd);
      closeSync(other);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
