/**
 * Shared by the cloudtest tests: a config file in a temp directory, and an
 * in-process run whose report is captured.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CloudtestOptions, runCloudtestCommand } from '../../src/cloudtest/command.js';
import { silentLogger } from '../../src/log.js';
import { generateSshKeyPair } from '../../src/ssh/keys.js';
import '../../src/drivers.js';
import { driverNames } from '../../src/cloud/registry.js';

export interface ConfigSpec {
  driver: string;
  /** YAML lines under DriverParameters (already indented by the caller, or flat `Key: value`). */
  driverParameters: Record<string, unknown>;
  cloudVMs?: Record<string, string | number>;
}

export class TempConfig {
  readonly dir = mkdtempSync(join(tmpdir(), 'cloudtest-'));
  readonly path = join(this.dir, 'config.yml');

  constructor(spec: ConfigSpec) {
    const key = generateSshKeyPair().private;
    const cloudVMs: Record<string, string | number> = {
      Driver: spec.driver,
      ImageID: 'test-image',
      SyncInterval: '200ms',
      ProbeInterval: '200ms',
      TimeoutBooting: '10s',
      TimeoutShutdown: '1s',
      ...spec.cloudVMs,
    };
    const indent = (s: string, n: number): string => s.split('\n').map((l) => ' '.repeat(n) + l).join('\n');
    const yaml = `Clusters:
  zzzzz:
    SystemRootToken: cloudtestroottoken0123456789abcdef
    Services:
      Controller:
        ExternalURL: https://127.0.0.1:1
    Containers:
      DispatchPrivateKey: |
${indent(key.trim(), 8)}
      CloudVMs:
${Object.entries(cloudVMs).map(([k, v]) => `        ${k}: ${JSON.stringify(v)}`).join('\n')}
        ResourceTags:
          Owner: cloudtest-suite
        DriverParameters:
${Object.entries(spec.driverParameters).map(([k, v]) => `          ${k}: ${JSON.stringify(v)}`).join('\n')}
    InstanceTypes:
      big:
        VCPUs: 8
        RAM: 32GiB
        Price: 0.8
        ProviderType: t3.2xlarge
      small:
        VCPUs: 2
        RAM: 4GiB
        Price: 0.1
        ProviderType: t3.medium
`;
    writeFileSync(this.path, yaml);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Collects what the command writes. */
export class Capture {
  text = '';
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

/** Runs the command in this process; returns its exit status and its report. */
export async function runInProcess(opts: Omit<CloudtestOptions, 'instanceSetId'> & { instanceSetId: string }): Promise<{ code: number; out: string; err: string }> {
  const out = new Capture();
  const err = new Capture();
  const code = await runCloudtestCommand(opts, { stdout: out, stderr: err, logger: silentLogger() });
  return { code, out: out.text, err: err.text };
}

/** A fake cloud endpoint the cloudtest tests start once per file. */
export interface FakeEndpoint {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Mocha hooks for a describe block that runs cloudtest against a fake cloud
 * endpoint whose instances are SSH servers on one random port: skips the
 * block while `driver` is not registered, starts the fake (`make(sshPort)`)
 * before it, stops it after, and removes the configs each test wrote.
 * `config()` writes one: `driverParameters(fake)` plus the test's own.
 */
export function useFakeCloud<F extends FakeEndpoint>(
  driver: string,
  make: (sshPort: number) => Promise<F>,
  driverParameters: (fake: F) => Record<string, unknown>,
): { fake: () => F; config: (extra?: Record<string, unknown>) => TempConfig } {
  let fake: F | undefined;
  let sshPort = 0;
  const configs: TempConfig[] = [];
  before(async function () {
    if (!driverNames().includes(driver)) this.skip();
    sshPort = 20_000 + Math.floor(Math.random() * 20_000);
    fake = await make(sshPort);
    await fake.start();
  });
  after(async () => {
    await fake?.stop();
  });
  afterEach(() => {
    for (const c of configs.splice(0)) c.remove();
  });
  return {
    fake: () => fake!,
    config: (extra = {}) => {
      const cfg = new TempConfig({
        driver,
        driverParameters: { ...driverParameters(fake!), ...extra },
        cloudVMs: { SSHPort: String(sshPort) },
      });
      configs.push(cfg);
      return cfg;
    },
  };
}
