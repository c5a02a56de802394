/**
 * The daemon's own settings file: defaults, every key, strict validation
 * with YAML paths, the default path being optional and a named one not,
 * the example file, check-config's output, and `EventFeed.Enable: false`
 * keeping the dispatcher off the feed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { checkConfigCommand } from '../../src/config/check-config.js';
import { settingsToYAML } from '../../src/config/dump.js';
import { ConfigError } from '../../src/config/load.js';
import { defaultSettings, loadSettingsFile, loadSettingsText, type Settings } from '../../src/config/settings.js';
import { loadDaemonConfig } from '../../src/daemon.js';
import { ManualStack } from '../fixtures/manual-stack.js';
import { settingsErrors as errorsOf } from './fixtures.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const EXAMPLE_SETTINGS = join(REPO, 'dispatch-cloud.example.yml');
const EXAMPLE_CONFIG = join(REPO, 'config.example.yml');

const DEFAULTS: Settings = {
  EventFeed: { Enable: true, ScopedToken: true },
  SchedulingStatus: { AppendEstimate: false },
  Estimates: { DefaultRuntime: 10 * 60_000, DefaultBootTime: 3 * 60_000 },
  Suggestions: { Enable: true, After: 60_000, Horizon: 30 * 60_000, MaxCPUFraction: 0.1 },
  FairShare: { Enable: false, By: 'owner', Window: 3_600_000, Weights: {}, PriorityBands: [] },
  WarmPools: { Pools: [], BusyFraction: 0 },
  PreWarm: { Enable: false, MaxSpeculativeSpend: 5, Lead: 30_000, MinConfidence: 0.5 },
  Locality: { Enable: false, CacheTimeout: 5 * 60_000, DepsTimeout: 0 },
  DrainToSave: { Enable: false, MaxUsedShare: 0.5, QuietPeriod: 10 * 60_000 },
  Billing: { InstanceTypes: {}, StretchIdle: false, MaxStretch: 30 * 60_000, StretchMargin: 60_000, MinLikelihood: 0.5, ArrivalWindow: 3_600_000 },
  Reclaims: { AvoidReclaimedTypes: false, HalfLife: 6 * 3_600_000, OnDemandAfter: 0, OnDemandAboveRuntime: 0 },
  SpotFallback: { Enable: false, After: 5 * 60_000 },
  SpendingCap: { Enable: false, Soft: 0, Hard: 0, DeferBelowPriority: 0, PerOwnerBy: 'owner', PerOwnerSoft: 0, PerOwnerHard: 0, HighPriorityFirst: true },
  StartBreaker: { Enable: true, TryInterval: 60_000, LastAttemptWait: 10 * 60_000 },
};

describe('settings file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'settings-'));
  });
  afterEach(() => rmSync(dir, { recursive: true }));

  it('an empty file, a file of comments, {} and empty sections mean every default', () => {
    assert.deepEqual(defaultSettings(), DEFAULTS);
    for (const text of ['', '# nothing here\n', '{}', 'EventFeed:\nEstimates: {}\n']) {
      const { settings, found, warnings } = loadSettingsText(text, 'd.yml');
      assert.deepEqual({ settings, found, warnings }, { settings: DEFAULTS, found: true, warnings: [] }, JSON.stringify(text));
    }
  });

  it('reads every key, durations in ms, YAML 1.1 booleans as config.yml does', () => {
    const { settings, warnings } = loadSettingsText(
      `EventFeed: {Enable: off, ScopedToken: no}
SchedulingStatus: {AppendEstimate: yes}
Estimates: {DefaultRuntime: 1h30m, DefaultBootTime: 0s}
Suggestions: {Enable: false, After: 0, Horizon: 2h, MaxCPUFraction: 1}
FairShare: {Enable: true, By: project, Window: 30m, Weights: {zzzzz-j7d0g-000000000000001: 2.5}, PriorityBands: [500, 900]}
Locality: {Enable: true, CacheTimeout: 3m, DepsTimeout: 45s}
DrainToSave: {Enable: true, MaxUsedShare: 0.25, QuietPeriod: 0s}
Billing: {InstanceTypes: {m5.large: {Increment: 1h, Minimum: 1h}, "*": {Increment: 1s, Minimum: 1m}}, StretchIdle: true, MaxStretch: 45m, StretchMargin: 2m, MinLikelihood: 0.8, ArrivalWindow: 2h}
Reclaims: {AvoidReclaimedTypes: true, HalfLife: 1h, OnDemandAfter: 2, OnDemandAboveRuntime: 4h}
SpotFallback: {Enable: true, After: 90s}
SpendingCap: {Enable: true, Soft: 30, Hard: 40.5, DeferBelowPriority: 500, PerOwnerBy: project, PerOwnerSoft: 0, PerOwnerHard: 12}
StartBreaker: {Enable: false, TryInterval: 5m, LastAttemptWait: 0}
`,
      'd.yml',
    );
    assert.deepEqual(warnings, []);
    assert.deepEqual(settings, {
      EventFeed: { Enable: false, ScopedToken: false },
      SchedulingStatus: { AppendEstimate: true },
      Estimates: { DefaultRuntime: 90 * 60_000, DefaultBootTime: 0 },
      Suggestions: { Enable: false, After: 0, Horizon: 2 * 3_600_000, MaxCPUFraction: 1 },
      FairShare: { Enable: true, By: 'project', Window: 30 * 60_000, Weights: { 'zzzzz-j7d0g-000000000000001': 2.5 }, PriorityBands: [900, 500] },
      WarmPools: DEFAULTS.WarmPools,
      PreWarm: DEFAULTS.PreWarm,
      Locality: { Enable: true, CacheTimeout: 3 * 60_000, DepsTimeout: 45_000 },
      DrainToSave: { Enable: true, MaxUsedShare: 0.25, QuietPeriod: 0 },
      Billing: {
        InstanceTypes: { 'm5.large': { incrementMs: 3_600_000, minimumMs: 3_600_000 }, '*': { incrementMs: 1000, minimumMs: 60_000 } },
        StretchIdle: true,
        MaxStretch: 45 * 60_000,
        StretchMargin: 2 * 60_000,
        MinLikelihood: 0.8,
        ArrivalWindow: 2 * 3_600_000,
      },
      Reclaims: { AvoidReclaimedTypes: true, HalfLife: 3_600_000, OnDemandAfter: 2, OnDemandAboveRuntime: 4 * 3_600_000 },
      SpotFallback: { Enable: true, After: 90_000 },
      SpendingCap: { Enable: true, Soft: 30, Hard: 40.5, DeferBelowPriority: 500, PerOwnerBy: 'project', PerOwnerSoft: 0, PerOwnerHard: 12, HighPriorityFirst: true },
      StartBreaker: { Enable: false, TryInterval: 5 * 60_000, LastAttemptWait: 0 },
    });
  });

  it('a key left out keeps its default beside the keys given', () => {
    const { settings } = loadSettingsText('Suggestions:\n  MaxCPUFraction: 0.5\n', 'd.yml');
    assert.deepEqual(settings, { ...DEFAULTS, Suggestions: { ...DEFAULTS.Suggestions, MaxCPUFraction: 0.5 } });
  });

  it('unknown sections and keys are errors, with their paths and a "did you mean"', () => {
    assert.deepEqual(errorsOf('EventFeeds: {Enable: true}\nSuggestions: {after: 2m, Colour: blue}\n'), [
      'd.yml: EventFeeds: unknown key (did you mean EventFeed?)',
      'd.yml: Suggestions.after: unknown key (did you mean After?)',
      'd.yml: Suggestions.Colour: unknown key',
    ]);
  });

  it('values of the wrong type are errors at their YAML paths, all reported at once', () => {
    assert.deepEqual(
      errorsOf(`EventFeed: {Enable: maybe}
SchedulingStatus: [a]
Estimates: {DefaultRuntime: 10, DefaultBootTime: {a: 1}}
Suggestions: {MaxCPUFraction: half}
SpendingCap: {Hard: -1, PerOwnerBy: team}
`),
      [
        'd.yml: EventFeed.Enable: expected true or false, got "maybe"',
        'd.yml: SchedulingStatus: expected a map of keys to values, got a list',
        'd.yml: Estimates.DefaultRuntime: invalid duration "10": missing unit, e.g. "10s"',
        'd.yml: Estimates.DefaultBootTime: expected a duration like "10s", "1m30s" or "2h", got a map',
        'd.yml: Suggestions.MaxCPUFraction: expected a number, got "half"',
        'd.yml: SpendingCap.Hard: expected a number of at least 0, got -1',
        'd.yml: SpendingCap.PerOwnerBy: expected one of owner, project, got "team"',
      ],
    );
    assert.deepEqual(errorsOf('- EventFeed\n'), ['d.yml: expected a map of sections (EventFeed, SchedulingStatus, Estimates, Suggestions, FairShare, WarmPools, PreWarm, Locality, DrainToSave, Billing, Reclaims, SpotFallback, SpendingCap, StartBreaker) at the top level']);
  });

  it('warns about a spending cap turned on with no level: it caps nothing', () => {
    assert.deepEqual(loadSettingsText('SpendingCap: {Enable: true, DeferBelowPriority: 500}\n', 'd.yml').warnings, [
      'd.yml: line 1: SpendingCap.Enable: true, but no level is set (Soft, Hard, PerOwnerSoft or PerOwnerHard): it caps nothing',
    ]);
    assert.deepEqual(loadSettingsText('SpendingCap: {Enable: true, PerOwnerHard: 3}\n', 'd.yml').warnings, []);
    assert.deepEqual(loadSettingsText('SpendingCap: {Enable: false}\n', 'd.yml').warnings, []);
  });

  it('values out of range are errors (not warnings, as they would be in config.yml)', () => {
    assert.deepEqual(errorsOf('Estimates: {DefaultRuntime: 0s, DefaultBootTime: -1s}\nSuggestions: {After: -1m, Horizon: 0s, MaxCPUFraction: 0}\n'), [
      'd.yml: Estimates.DefaultRuntime: expected a duration greater than 0s, got "0s"',
      'd.yml: Estimates.DefaultBootTime: expected a duration of at least 0s, got "-1s"',
      'd.yml: Suggestions.After: expected a duration of at least 0s, got "-1m"',
      'd.yml: Suggestions.Horizon: expected a duration greater than 0s, got "0s"',
      'd.yml: Suggestions.MaxCPUFraction: expected a number greater than 0 and at most 1, got 0',
    ]);
    assert.deepEqual(errorsOf('Suggestions: {MaxCPUFraction: 1.5}\n'), ['d.yml: Suggestions.MaxCPUFraction: expected a number greater than 0 and at most 1, got 1.5']);
  });

  it('a YAML syntax error or a key given twice is an error with its line', () => {
    assert.match(errorsOf('EventFeed: {Enable: true}\nEventFeed: {Enable: false}\n')[0], /^d\.yml: line 2, column 1: Map keys must be unique/);
    assert.match(errorsOf('EventFeed: [\n')[0], /^d\.yml: line \d+, column \d+: /);
  });

  it('a file whose aliases would expand past 1,000 copies is refused as an error naming the file, without being expanded', () => {
    // Six levels of ten aliases each: a million copies of "x" once expanded.
    const lines = ['l0: &l0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 6; i++) lines.push(`l${i}: &l${i} [${Array(10).fill(`*l${i - 1}`).join(', ')}]`);
    assert.deepEqual(errorsOf(lines.join('\n')), ['d.yml: Excessive alias count indicates a resource exhaustion attack']);
  });

  it('a key that is a list, a map, binary data or a timestamp is an error naming it, with no warning from the YAML library', async () => {
    const warnings: unknown[] = [];
    const onWarning = (w: unknown) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      assert.deepEqual(errorsOf('? [a, b]\n: 1\n'), ['d.yml: ["a","b"]: a key must be a single value (text or a number), not a list, a map, binary data or a timestamp']);
      assert.deepEqual(errorsOf('PreWarm:\n  !!binary aGVsbG8=: 1\n'), ['d.yml: PreWarm.!!binary aGVsbG8=: a key must be a single value (text or a number), not a list, a map, binary data or a timestamp']);
      assert.deepEqual(errorsOf('Billing:\n  InstanceTypes:\n    !!timestamp 2001-12-14: {Increment: 1h}\n'), [
        'd.yml: Billing.InstanceTypes.!!timestamp 2001-12-14: a key must be a single value (text or a number), not a list, a map, binary data or a timestamp',
      ]);
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(warnings, []);
  });

  it('a missing file at the default path means the defaults; a missing file named explicitly is an error', () => {
    const missing = join(dir, 'dispatch-cloud.yml');
    const { settings, found, warnings, place } = loadSettingsFile(missing, { explicit: false });
    assert.deepEqual({ settings, found, warnings }, { settings: DEFAULTS, found: false, warnings: [] });
    assert.equal(place('WarmPools.Pools.0.InstanceType: x'), `${missing}: WarmPools.Pools.0.InstanceType: x`, 'a later problem names the file');
    assert.throws(
      () => loadSettingsFile(missing, { explicit: true }),
      (err: unknown) => err instanceof ConfigError && /dispatch-cloud\.yml: cannot read the settings file: ENOENT/.test(err.errors[0]),
    );
    // A file that exists but cannot be read is never taken for "no settings".
    assert.throws(() => loadSettingsFile(dir, { explicit: false }), (err: unknown) => err instanceof ConfigError && /cannot read the settings file: EISDIR/.test(err.errors[0]));
    writeFileSync(missing, 'EventFeed: {Enable: false}\n');
    assert.equal(loadSettingsFile(missing, { explicit: false }).settings.EventFeed.Enable, false);
  });

  it('dispatch-cloud.example.yml loads without warnings to exactly the defaults, and sets every key', () => {
    const { settings, warnings } = loadSettingsFile(EXAMPLE_SETTINGS, { explicit: true });
    assert.deepEqual(warnings, []);
    assert.deepEqual(settings, DEFAULTS);
    // Every key written out, so the example documents them all.
    const written = parseAllDocuments(readFileSync(EXAMPLE_SETTINGS, 'utf8'))[0].toJS() as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(written), Object.keys(DEFAULTS));
    for (const [section, values] of Object.entries(DEFAULTS)) assert.deepEqual(Object.keys(written[section]), Object.keys(values), section);
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { files: string[] };
    assert.ok(pkg.files.includes('dispatch-cloud.example.yml'));
  });

  it("check-config's settings document loads back to the same settings", () => {
    const changed: Settings = { ...DEFAULTS, Estimates: { DefaultRuntime: 90_500, DefaultBootTime: 0 } };
    const [, doc] = parseAllDocuments(`Clusters: {}\n${settingsToYAML(changed, 'x.yml', true)}`);
    assert.deepEqual(loadSettingsText(doc.toString(), 'x.yml').settings, changed);
  });

  describe('the daemon at start', () => {
    /** Runs the daemon's config step; what it printed. */
    function start(settingsText: string | undefined, explicit: boolean): { loaded: ReturnType<typeof loadDaemonConfig>; printed: string } {
      const settings = join(dir, settingsText === undefined ? 'absent.yml' : 'dispatch-cloud.yml');
      if (settingsText !== undefined) writeFileSync(settings, settingsText);
      let printed = '';
      const stderr = { write: (s: string) => ((printed += s), true) } as unknown as NodeJS.WritableStream;
      return { loaded: loadDaemonConfig({ config: EXAMPLE_CONFIG, settings, settingsExplicit: explicit }, stderr), printed };
    }

    it('starts with the settings file, or with the defaults when the default path has none', () => {
      const given = start('EventFeed: {Enable: false}\n', false);
      assert.equal(given.loaded?.settings.EventFeed.Enable, false, given.printed);
      const none = start(undefined, false);
      assert.deepEqual(none.loaded?.settings, DEFAULTS, none.printed);
    });

    it('refuses to start on a bad settings file or a named one that is missing, printing every error', () => {
      const bad = start('Suggestions: {Horizon: 0s, Enabled: true}\n', false);
      assert.equal(bad.loaded, undefined);
      assert.match(bad.printed, /dispatch-cloud\.yml: line 1: Suggestions\.Horizon: expected a duration greater than 0s, got "0s"\n/);
      assert.match(bad.printed, /dispatch-cloud\.yml: line 1: Suggestions\.Enabled: unknown key \(did you mean Enable\?\)\n/);
      const missing = start(undefined, true);
      assert.equal(missing.loaded, undefined);
      assert.match(missing.printed, /absent\.yml: cannot read the settings file: ENOENT/);
    });
  });

  describe('check-config', () => {
    /** check-config in process, with its output collected. */
    async function check(settings: string, explicit = true): Promise<{ code: number; stdout: string; stderr: string }> {
      let stdout = '';
      let stderr = '';
      const out = { stdout: { write: (s: string) => ((stdout += s), true) }, stderr: { write: (s: string) => ((stderr += s), true) } };
      const code = await checkConfigCommand({ config: EXAMPLE_CONFIG, settings, settingsExplicit: explicit }, out);
      return { code, stdout, stderr };
    }

    it('prints the settings, every default filled in, as a second document after the cluster config', async () => {
      const file = join(dir, 'mine.yml');
      writeFileSync(file, 'Suggestions: {Horizon: 90m}\n');
      const r = await check(file);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      const docs = parseAllDocuments(r.stdout);
      assert.equal(docs.length, 2);
      assert.deepEqual(Object.keys(docs[0].toJS() as object), ['Clusters']);
      assert.match(r.stdout, new RegExp(`^# arvados-dispatch-cloud's own settings file, not part of the cluster config \\(${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\)`, 'm'));
      assert.deepEqual(docs[1].toJS(), {
        EventFeed: { Enable: true, ScopedToken: true },
        SchedulingStatus: { AppendEstimate: false },
        Estimates: { DefaultRuntime: '10m0s', DefaultBootTime: '3m0s' },
        Suggestions: { Enable: true, After: '1m0s', Horizon: '1h30m0s', MaxCPUFraction: 0.1 },
        FairShare: { Enable: false, By: 'owner', Window: '1h0m0s', Weights: {}, PriorityBands: [] },
        WarmPools: { Pools: [], BusyFraction: 0 },
        PreWarm: { Enable: false, MaxSpeculativeSpend: 5, Lead: '30s', MinConfidence: 0.5 },
        Locality: { Enable: false, CacheTimeout: '5m0s', DepsTimeout: '0s' },
        DrainToSave: { Enable: false, MaxUsedShare: 0.5, QuietPeriod: '10m0s' },
        Billing: { InstanceTypes: {}, StretchIdle: false, MaxStretch: '30m0s', StretchMargin: '1m0s', MinLikelihood: 0.5, ArrivalWindow: '1h0m0s' },
        Reclaims: { AvoidReclaimedTypes: false, HalfLife: '6h0m0s', OnDemandAfter: 0, OnDemandAboveRuntime: '0s' },
        SpotFallback: { Enable: false, After: '5m0s' },
        SpendingCap: { Enable: false, Soft: 0, Hard: 0, DeferBelowPriority: 0, PerOwnerBy: 'owner', PerOwnerSoft: 0, PerOwnerHard: 0, HighPriorityFirst: true },
        StartBreaker: { Enable: true, TryInterval: '1m0s', LastAttemptWait: '10m0s' },
      });
    });

    it('says when the default file does not exist, and shows the defaults', async () => {
      const r = await check(join(dir, 'absent.yml'), false);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /absent\.yml does not exist\); every default filled in\n/);
      assert.deepEqual(loadSettingsText(parseAllDocuments(r.stdout)[1].toString(), 'out').settings, DEFAULTS);
    });

    it('reports settings errors like config errors: exit 2, nothing on stdout', async () => {
      const file = join(dir, 'bad.yml');
      writeFileSync(file, 'EventFeed: {Enable: 1}\nEstimate: {}\n');
      const r = await check(file);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `${file}: line 2: Estimate: unknown key (did you mean Estimates?)\n${file}: line 1: EventFeed.Enable: expected true or false, got 1\n2 errors: the daemon would not start with this config\n`);
      const missing = await check(join(dir, 'absent.yml'), true);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /absent\.yml: cannot read the settings file: ENOENT/);
    });

    it('the command takes --settings before or after the subcommand, and ARVADOS_DISPATCH_CLOUD_SETTINGS', async function () {
      // Each run starts node and the TypeScript loader.
      this.timeout(60_000);
      const file = join(dir, 'mine.yml');
      writeFileSync(file, 'Estimates: {DefaultRuntime: 7m}\n');
      const runs = [
        await run(['check-config', '--config', 'config.example.yml', '--settings', file]),
        await run(['--settings', file, 'check-config', '--config', 'config.example.yml']),
        await run(['check-config', '--config', 'config.example.yml'], { ARVADOS_DISPATCH_CLOUD_SETTINGS: file }),
      ];
      for (const r of runs) {
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^ {2}DefaultRuntime: 7m0s$/m);
      }
      const named = await run(['check-config', '--config', 'config.example.yml'], { ARVADOS_DISPATCH_CLOUD_SETTINGS: join(dir, 'absent.yml') });
      assert.equal(named.code, 2);
      assert.match(named.stderr, /absent\.yml: cannot read the settings file: ENOENT/);
    });
  });
});

/** Runs the installed command from the repository root. */
function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['scripts/from-sources.mjs', ...args], { cwd: REPO, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('EventFeed.Enable: false', function () {
  this.timeout(20_000);

  /** A TCP server on 127.0.0.1 that counts connections and never answers: a feed that never comes up. */
  function silentServer(): Promise<{ server: Server; url: string; connections: Socket[]; connected: Promise<void> }> {
    const connections: Socket[] = [];
    let connectedNow!: () => void;
    const connected = new Promise<void>((resolve) => (connectedNow = resolve));
    const server = createServer((socket) => {
      connections.push(socket);
      connectedNow();
    });
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({ server, url: `ws://127.0.0.1:${port}/websocket`, connections, connected });
    }));
  }

  const stacks: ManualStack[] = [];
  const servers: Array<{ server: Server; connections: Socket[] }> = [];
  afterEach(async () => {
    for (const { connections } of servers) for (const socket of connections) socket.destroy();
    for (const s of stacks.splice(0)) await s.close();
    for (const { server } of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  });

  it('starts no feed although Services.Websocket.ExternalURL is set, and says so once; the default does connect', async () => {
    const off = await silentServer();
    const on = await silentServer();
    servers.push(off, on);
    for (const s of [off, on]) {
      s.server.on('connection', (socket) => socket.on('error', () => undefined));
    }

    const offStack = new ManualStack({ websocketURL: off.url });
    stacks.push(offStack);
    const disabled = await offStack.start({ settings: { ...defaultSettings(), EventFeed: { Enable: false, ScopedToken: true } } });
    assert.equal(disabled.settings.EventFeed.Enable, false);
    assert.equal(disabled.eventFeed.view().state, 'disabled');
    assert.equal(disabled.eventFeed.view().status, undefined);
    assert.equal(offStack.records('event feed disabled by the settings file (EventFeed.Enable: false): new containers are seen at the next poll').length, 1);
    assert.equal(offStack.records('event feed connecting').length, 0);

    // The same setup with the default settings reaches its server; by then the first would have too.
    const onStack = new ManualStack({ websocketURL: on.url });
    stacks.push(onStack);
    const enabled = await onStack.start();
    await on.connected;
    assert.equal(enabled.eventFeed.view().state, 'connecting');
    assert.equal(enabled.eventFeed.view().status?.attempts, 1);
    await offStack.run(1_000);
    assert.equal(off.connections.length, 0);
    assert.equal(disabled.eventFeed.view().state, 'disabled');
  });
});
