/**
 * Logging: winston, one JSON object per line on stderr (journald keeps them),
 * with fields (`ContainerUUID`, `Instance`, `InstanceType`, `State`) merged in
 * by child loggers.
 *
 * Lines look like the reference dispatcher's (Go's logrus, as Arvados sets it
 * up), so operators' log queries keep working when they switch: JSON objects
 * with `level`, `msg` and `time` (RFC 3339 with nine fraction digits), level
 * names as logrus writes them (`warning`, `trace`); or, with
 * `SystemLogs.Format: text`, logrus's `time="..." level=info msg="..." K=V`.
 *
 * Secrets never reach the output: every value given to `createLogger` in
 * `secrets` (tokens, the instance secrets the pool learns later through
 * `addSecret`) is replaced wherever it appears, in messages, fields, nested
 * objects and error stacks; and fields whose names say they hold a secret
 * (`Authorization`, `*Token`, `*Secret`, `PrivateKey`, ...) are redacted
 * whatever their value.
 */
import { Writable } from 'node:stream';
import winston from 'winston';
import { type Clock, systemClock } from './clock/index.js';
import { journalPrefix } from './journal-stream.js';

export type Logger = winston.Logger;

export const REDACTED = '[REDACTED]';

export const LOG_LEVELS = ['error', 'warn', 'info', 'verbose', 'debug', 'silly'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `SystemLogs.Format`. */
export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * Level names as configured (logrus's, which Arvados uses) to winston's. Trace
 * is winston's `silly`; fatal and panic, which a daemon that keeps running
 * never logs, mean "errors only".
 */
const CONFIGURED_LEVEL: Readonly<Record<string, LogLevel>> = {
  panic: 'error',
  fatal: 'error',
  error: 'error',
  warn: 'warn',
  warning: 'warn',
  info: 'info',
  verbose: 'verbose',
  debug: 'debug',
  trace: 'silly',
  silly: 'silly',
};

/** winston's level names to the ones logrus writes in the `level` field. */
const WRITTEN_LEVEL: Readonly<Record<string, string>> = {
  error: 'error',
  warn: 'warning',
  info: 'info',
  verbose: 'debug',
  debug: 'debug',
  silly: 'trace',
};

/** winston's key for the finished line of an entry (triple-beam's MESSAGE). */
const LINE = Symbol.for('message');

const SECRET_FIELD = /(authorization|token|secret|password|privatekey|private_key|cookie)$/i;

/** Tokens shorter than this are not redacted by value (redacting "a" would mangle every line). */
const MIN_SECRET_LENGTH = 8;

export interface LoggerOptions {
  /** Arvados `SystemLogs.LogLevel`; `LOG_LEVEL` in the environment overrides it. Default info. */
  level?: string;
  /** Arvados `SystemLogs.Format`. Default json. */
  format?: LogFormat;
  /** Values to scrub from every line. More can be added later with `addSecret`. */
  secrets?: Iterable<string>;
  /** Where the lines go; default stdout. Tests pass a stream to capture them. */
  stream?: Writable;
  /** Fields on every line. */
  defaultMeta?: Record<string, unknown>;
  /** Timestamps from this clock (the simulator's logs then carry simulated time). */
  clock?: Clock;
  /**
   * Start each line with its syslog priority (`<3>` for errors, `<4>`
   * warnings, `<6>` info, `<7>` debug), which journald takes as the line's
   * priority and removes (`SyslogLevelPrefix=`, on by default). Only for a
   * stream journald reads: `isJournalStream` (journal-stream.ts).
   */
  journalPriority?: boolean;
}

/** The holder of the secret values a logger scrubs; shared with its children. */
export class SecretSet {
  private values = new Set<string>();
  private pattern: RegExp | undefined;
  /** Values were added or removed since `pattern` was built. */
  private stale = false;

  add(value: string | undefined): void {
    if (!value || value.length < MIN_SECRET_LENGTH || this.values.has(value)) return;
    this.values.add(value);
    // Built on the next scrub, not here: a pool adds one secret per VM, and
    // rebuilding the whole pattern each time is quadratic in VMs created.
    this.stale = true;
  }

  /** Forgets a value (a destroyed VM's secret): the set must not grow with every VM ever created. */
  remove(value: string | undefined): void {
    if (value && this.values.delete(value)) this.stale = true;
  }

  scrub(text: string): string {
    if (this.stale) {
      this.stale = false;
      const alternatives = [...this.values]
        .sort((a, b) => b.length - a.length)
        .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
      this.pattern = alternatives.length > 0 ? new RegExp(alternatives.join('|'), 'g') : undefined;
    }
    return this.pattern ? text.replace(this.pattern, REDACTED) : text;
  }
}

const secretSets = new WeakMap<Logger, SecretSet>();

/** Registers another value to scrub, e.g. an instance secret learned at runtime. */
export function addSecret(log: Logger, value: string | undefined): void {
  secretSets.get(log)?.add(value);
}

/** Stops scrubbing `value` from `log` (and its relatives); see `SecretSet.remove`. */
export function removeSecret(log: Logger, value: string | undefined): void {
  secretSets.get(log)?.remove(value);
}

/**
 * Error classes that mean a programming error wherever they are thrown: the
 * text starts with the class, so a bug reads as one in the log (and the
 * chaos checks, src/sim/chaos-checks.ts, can count it).
 */
export const BUG_CLASSES: ReadonlySet<string> = new Set(['TypeError', 'ReferenceError', 'RangeError', 'SyntaxError', 'EvalError', 'URIError', 'AssertionError']);

/**
 * An Error as the reference's logs write one (logrus writes `err.Error()`):
 * one string, its message followed by each cause's that it does not already
 * contain, joined by ": " as Go's wrapped errors read. Log pipelines can
 * then filter on `error` as text on every line; an object there (name,
 * message, stack, the SDK's metadata) broke `jq` filters and Elasticsearch
 * mappings. An AggregateError without a message (Node's connect to several
 * addresses) gives its errors' messages.
 */
export function errorText(err: Error): string {
  let text = err.message;
  if (text === '' && err instanceof AggregateError) text = err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join('; ');
  if (text === '') text = err.name;
  else if (BUG_CLASSES.has(err.name) && !text.startsWith(`${err.name}:`)) text = `${err.name}: ${text}`;
  let cause: unknown = err.cause;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    const m = cause instanceof Error ? cause.message : String(cause);
    if (m !== '' && !text.includes(m)) text += `: ${m}`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return text;
}

function sanitize(value: unknown, secrets: SecretSet, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return secrets.scrub(value);
  if (value instanceof Error) return secrets.scrub(errorText(value));
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8 || seen.has(value)) return '[...]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => sanitize(v, secrets, depth + 1, seen));
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return `<${value.length} bytes>`;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_FIELD.test(k) && v !== '' && v !== undefined && v !== null ? REDACTED : sanitize(v, secrets, depth + 1, seen);
  }
  return out;
}

/** Where winston keeps a call's extra arguments (triple-beam's SPLAT). */
const SPLAT = Symbol.for('splat');

/**
 * winston merges a call's fields into the entry only when the message holds
 * no printf token (`%s`, `%c`, ...); otherwise it keeps them aside for a
 * splat format, which this logger does not use. A message with a "%" from
 * outside (a controller's text, a URL) would lose its fields: merge them
 * back, the call's own fields never overriding the entry's.
 */
function keepFieldsFormat() {
  return winston.format((info) => {
    const extra = (info as unknown as Record<symbol, unknown>)[SPLAT];
    if (!Array.isArray(extra)) return info;
    for (const meta of extra) {
      if (meta === null || typeof meta !== 'object' || Array.isArray(meta) || meta instanceof Error) continue;
      // Keys first: a field already merged is not read again (it may be a getter).
      for (const k of Object.keys(meta)) if (!(k in info)) (info as Record<string, unknown>)[k] = (meta as Record<string, unknown>)[k];
    }
    return info;
  })();
}

/**
 * Scrubs secrets from every field and writes errors as text (errorText).
 * With `stacks()` (the logger is at debug or trace), an error field `K`
 * also gets its stack as `KStack`, and a line logged from an error keeps
 * its `stack`; otherwise stacks are left out, as the reference has none.
 */
function scrubFormat(secrets: SecretSet, stacks: () => boolean) {
  return winston.format((info) => {
    const seen = new WeakSet<object>();
    const record = info as Record<string, unknown>;
    const withStacks = stacks();
    if (!withStacks) delete record.stack;
    for (const key of Object.keys(info)) {
      if (key === 'level') continue;
      const v = record[key];
      if (withStacks && v instanceof Error && v.stack) record[`${key}Stack`] = secrets.scrub(v.stack);
      record[key] = SECRET_FIELD.test(key) && typeof v === 'string' && v !== '' ? REDACTED : sanitize(v, secrets, 0, seen);
    }
    return info;
  })();
}

/** Resolves the level: `LOG_LEVEL` wins over the config's; unknown names fall back to info. */
export function resolveLevel(configured?: string): LogLevel {
  const wanted = (process.env.LOG_LEVEL || configured || 'info').toLowerCase();
  return CONFIGURED_LEVEL[wanted] ?? 'info';
}

/**
 * A duration field as the reference's logs carry it (Go's `time.Duration`,
 * which its JSON logs write as whole nanoseconds), from milliseconds. Lines
 * that have one also carry the same in milliseconds (`...Ms`).
 */
export function goNanoseconds(ms: number): number {
  return Math.round(ms * 1e6);
}

/** `2026-12-04T16:43:33.123000000Z`: logrus's time format as Arvados sets it (RFC 3339, nine fraction digits). */
export function logTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

/**
 * The finished line of an entry: level, msg and time first, then the fields.
 * A field that would clash with those three is renamed `fields.<name>`, as
 * logrus does.
 */
function lineFormat(format: LogFormat, now: () => number, journalPriority: boolean) {
  return winston.format((info) => {
    const record: Record<string, unknown> = { time: logTime(now()), level: WRITTEN_LEVEL[info.level] ?? info.level, msg: info.message };
    for (const key of Object.keys(info)) {
      if (key === 'level' || key === 'message') continue;
      record[key === 'time' || key === 'msg' ? `fields.${key}` : key] = (info as Record<string, unknown>)[key];
    }
    const line = format === 'text' ? textLine(record) : JSON.stringify(record, jsonValue);
    (info as unknown as Record<symbol, string>)[LINE] = journalPriority ? `${journalPrefix(info.level)}${line}` : line;
    return info;
  })();
}

function jsonValue(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** logrus's TextFormatter: `key=value`, the fixed keys first, then the fields sorted; values quoted when they need it. */
function textLine(record: Record<string, unknown>): string {
  const { time, level, msg, ...fields } = record;
  const pairs: Array<[string, unknown]> = [
    ['time', time],
    ['level', level],
    ['msg', msg],
    ...Object.keys(fields)
      .sort()
      .map((k): [string, unknown] => [k, fields[k]]),
  ];
  return pairs.map(([k, v]) => `${k}=${textValue(v)}`).join(' ');
}

function textValue(value: unknown): string {
  const text = typeof value === 'string' ? value : value !== null && typeof value === 'object' ? JSON.stringify(value, jsonValue) : String(value);
  // An empty value is written bare (`key=`), as logrus writes it.
  return /^[A-Za-z0-9._/@^+-]*$/.test(text) ? text : JSON.stringify(text);
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const secrets = new SecretSet();
  for (const s of opts.secrets ?? []) secrets.add(s);
  const clock = opts.clock ?? systemClock;
  const logger = winston.createLogger({
    level: resolveLevel(opts.level),
    defaultMeta: opts.defaultMeta,
    format: winston.format.combine(
      // winston formats every entry before its transports compare levels, so
      // a debug line in a hot loop (the scheduler's per-container decisions)
      // would be timestamped, scrubbed and serialised only to be dropped.
      winston.format((info) => (logger.isLevelEnabled(info.level) ? info : false))(),
      keepFieldsFormat(),
      winston.format.errors({ stack: true }),
      scrubFormat(secrets, () => logger.isLevelEnabled('debug')),
      lineFormat(opts.format ?? 'json', () => clock.now(), opts.journalPriority ?? false),
    ),
    transports: [new winston.transports.Stream({ stream: opts.stream ?? process.stdout })],
  });
  secretSets.set(logger, secrets);
  skipDisabledLevels(logger);
  // Children share the parent's transports and format, hence its SecretSet.
  const originalChild = logger.child;
  logger.child = function child(this: Logger, meta: Record<string, unknown>) {
    // Called with `this` = the logger being extended, so grandchildren keep every ancestor's fields.
    const c = originalChild.call(this, meta);
    secretSets.set(c, secrets);
    return c;
  };
  return logger;
}

/**
 * Makes `logger.debug(...)` & co. return at once when their level is off.
 * winston builds an info object and runs the format pipeline for every
 * call before anything compares levels; the filter format above stops the
 * expensive part, this stops the rest (a few microseconds a call, which a
 * scheduling pass over 100k containers would pay 100k times). Children
 * inherit these methods and the level check uses the callee's own level.
 */
function skipDisabledLevels(logger: Logger): void {
  const target = logger as unknown as Record<string, unknown>;
  for (const level of LOG_LEVELS) {
    const original = target[level] as (this: Logger, ...args: unknown[]) => Logger;
    target[level] = function (this: Logger, ...args: unknown[]): Logger {
      return this.isLevelEnabled(level) ? original.apply(this, args) : this;
    };
  }
  const originalLog = logger.log as (this: Logger, ...args: unknown[]) => Logger;
  target.log = function (this: Logger, ...args: unknown[]): Logger {
    return typeof args[0] === 'string' && typeof args[1] !== 'undefined' && !this.isLevelEnabled(args[0]) ? this : originalLog.apply(this, args);
  };
}

/** A logger that writes nothing: for tests that don't look at logs. */
export function silentLogger(): Logger {
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  return createLogger({ stream: sink, level: 'error' });
}

/**
 * Logs a given message at most once per `intervalMs` (per key), and says on
 * the next line how many were held back. For warnings a broken peer could
 * otherwise repeat thousands of times a minute.
 */
export class RateLimitedLog {
  private last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly intervalMs = 60_000,
  ) {}

  warn(message: string, fields: Record<string, unknown> = {}, key = message): void {
    this.emit('warn', message, fields, key);
  }

  error(message: string, fields: Record<string, unknown> = {}, key = message): void {
    this.emit('error', message, fields, key);
  }

  private emit(level: 'warn' | 'error', message: string, fields: Record<string, unknown>, key: string): void {
    const now = this.clock.now();
    const entry = this.last.get(key);
    if (entry && now - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    const extra = entry && entry.suppressed > 0 ? { Suppressed: entry.suppressed } : {};
    this.last.set(key, { at: now, suppressed: 0 });
    this.log.log(level, message, { ...fields, ...extra });
  }
}

/** A stream that collects lines, for tests and for the demo's summary. */
export class LineCollector extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.lines.push(line);
    cb();
  }
  records(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}
