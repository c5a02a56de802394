/**
 * RemoteRunner's log lines about a failed `--detach` or `--kill` carry the
 * start of what the VM printed, never all of it: the VM's output is not
 * ours to log whole, and a log line the size of a megabyte is a problem of
 * its own.
 */
import assert from 'node:assert/strict';
import { ManualClock, settle } from '../../src/clock/index.js';
import { createLogger, LineCollector } from '../../src/log.js';
import type { ExecuteResult, Executor } from '../../src/ssh/executor.js';
import type { PoolConfig } from '../../src/worker/pool-config.js';
import { RemoteRunner, type RunnerHost } from '../../src/worker/remote-runner.js';

const UUID = 'zzzzz-dz642-000000000000001';
const MB = 1_000_000;

describe('RemoteRunner: what it logs of a failed command', () => {
  const clock = new ManualClock();
  const cfg = { commandTimeout: 60_000, timeoutSignal: 5_000, timeoutTERM: 120_000, crunchRunCommand: 'crunch-run' } as PoolConfig;

  function runner(result: ExecuteResult, adopted: boolean): { rr: RemoteRunner; lines: LineCollector } {
    const lines = new LineCollector();
    const executor: Executor = { execute: async () => result, setTarget: () => {}, close: () => {} };
    const host: RunnerHost = {
      executor,
      remoteUser: 'crunch',
      log: createLogger({ stream: lines, level: 'debug', clock }),
      onKilled: () => {},
      onUnkillable: () => {},
    };
    return { rr: new RemoteRunner(UUID, clock.now(), host, clock, cfg, adopted), lines };
  }

  it('a --detach failing with 1 MB of stderr and of stdout logs a line of about 2 kB, the first 1000 characters of each', async () => {
    const { rr, lines } = runner({ exitCode: 1, stdout: Buffer.alloc(MB, 'o'), stderr: Buffer.alloc(MB, 'e') }, false);
    assert.equal(await rr.start('crunch-run --detach', '{}'), 'failed');
    await settle();
    const line = lines.lines.find((l) => l.includes('error starting crunch-run process'));
    assert.ok(line, lines.lines.join('\n'));
    // Two 1000-character excerpts and the usual fields.
    assert.ok(line.length < 2_500, `${line.length} characters`);
    const rec = JSON.parse(line) as Record<string, unknown>;
    assert.equal(rec.ExitCode, 1);
    assert.equal(rec.level, 'error');
    assert.equal(rec.error, 'Process exited with status 1', "the reference's error text for a non-zero exit");
    assert.equal(rec.stderr, 'e'.repeat(1000));
    assert.equal(rec.stdout, 'o'.repeat(1000));
  });

  it('a --kill failing with 1 MB of stderr logs a line under 2 kB', async () => {
    const { rr, lines } = runner({ exitCode: 1, stdout: Buffer.alloc(0), stderr: Buffer.alloc(MB, 'e') }, true);
    rr.kill('test');
    await settle();
    rr.close();
    const line = lines.lines.find((l) => l.includes('kill attempt unsuccessful'));
    assert.ok(line, lines.lines.join('\n'));
    assert.ok(line.length < 2_000, `${line.length} characters`);
    const rec = JSON.parse(line) as Record<string, unknown>;
    assert.equal(rec.stderr, 'e'.repeat(1000));
    // The reference's fields: the signal, both outputs and the exit as its error.
    assert.equal(rec.level, 'info');
    assert.equal(rec.Signal, 15);
    assert.equal(rec.stdout, '');
    assert.equal(rec.error, 'Process exited with status 1');
  });
});

describe('RemoteRunner: killing crunch-run', () => {
  const cfg = { commandTimeout: 60_000, timeoutSignal: 5_000, timeoutTERM: 120_000, crunchRunCommand: 'crunch-run' } as PoolConfig;

  function runner(clock: ManualClock, execute: Executor['execute']): { rr: RemoteRunner; killed: string[]; commands: string[] } {
    const killed: string[] = [];
    const commands: string[] = [];
    const executor: Executor = {
      execute: (cmd, opts) => {
        commands.push(cmd);
        return execute(cmd, opts);
      },
      setTarget: () => {},
      close: () => {},
    };
    const host: RunnerHost = {
      executor,
      remoteUser: 'root',
      log: createLogger({ stream: new LineCollector(), level: 'debug', clock }),
      onKilled: (uuid) => killed.push(uuid),
      onUnkillable: () => {},
    };
    return { rr: new RemoteRunner(UUID, clock.now(), host, clock, cfg, true), killed, commands };
  }

  for (const exitCode of [1, 2, 127]) {
    it(`a --kill that exits ${exitCode} is not taken for a kill: the signal is sent again at the next TimeoutSignal`, async () => {
      const clock = new ManualClock();
      const { rr, killed, commands } = runner(clock, async () => ({ exitCode, stdout: Buffer.alloc(0), stderr: Buffer.from('no such process\n') }));
      rr.kill('test');
      await settle();
      await clock.advance(cfg.timeoutSignal);
      await settle();
      rr.close();
      assert.deepEqual(killed, [], 'onKilled only when --kill exits 0');
      assert.equal(commands.length, 2);
    });
  }

  it('one --kill at a time: while one hangs on a slow VM, TimeoutSignal ticks send no other', async () => {
    const clock = new ManualClock();
    let release: (() => void) | undefined;
    const { rr, killed, commands } = runner(
      clock,
      () =>
        new Promise((resolve) => {
          release = () => resolve({ exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) });
        }),
    );
    rr.kill('test');
    await settle();
    for (let i = 0; i < 3; i++) {
      await clock.advance(cfg.timeoutSignal);
      await settle();
    }
    assert.equal(commands.length, 1, commands.join('\n'));
    release!();
    await settle();
    assert.deepEqual(killed, [UUID]);
    rr.close();
  });
});
