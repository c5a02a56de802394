/**
 * The VMs of the SshExecutor tests: an SshServer on 127.0.0.1 whose handler
 * speaks a tiny command language, and `useTestVms()`, which gives a describe
 * block VMs and executors that are closed after each of its tests.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { type CommandContext, type CommandResult, generateHostKey, SshServer } from '../../drivers/lame/sshd.js';
import type { Executor } from '../../src/ssh/executor.js';
import { SshExecutor, type SshExecutorOptions } from '../../src/ssh/ssh-executor.js';

// generateHostKey, not utils.generateKeyPairSync: see its comment (1 in 256 ssh2 keys is malformed).
export const clientKey = generateHostKey();
export const SECRET = 'f00dfeedf00dfeedf00dfeedf00dfeedf00dfeed';

/** Runs a command line in a real shell: lets the env test check the quoting as sh sees it. */
function shell(command: string, stdin: Buffer): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, exitCode: code ?? -1 }));
  });
}

/**
 * A VM: an SshServer whose handler speaks a tiny command language, records
 * what it ran, and lets a test hold a command ("block") until released.
 */
export class TestVm {
  readonly seen: CommandContext[] = [];
  readonly events = new EventEmitter();
  running = 0;
  maxRunning = 0;
  private releases: Array<() => void> = [];
  readonly server: SshServer;

  constructor() {
    this.server = new SshServer({
      hostKey: generateHostKey().private,
      authorizedKeys: [clientKey.public],
      handler: (ctx) => this.handle(ctx),
    });
  }

  /** The caller's commands (the verifier's `cat-secret` excluded). */
  callerCommands(): string[] {
    return this.seen.map((c) => c.command).filter((c) => c !== 'cat-secret');
  }

  releaseOne(): void {
    this.releases.shift()?.();
  }

  releaseAll(): void {
    for (const r of this.releases.splice(0)) r();
  }

  private async handle(ctx: CommandContext): Promise<CommandResult> {
    this.seen.push(ctx);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      return await this.dispatch(ctx);
    } finally {
      this.running--;
    }
  }

  private async dispatch(ctx: CommandContext): Promise<CommandResult> {
    const [word, ...rest] = ctx.command.split(' ');
    const arg = rest.join(' ');
    switch (word) {
      case 'echo':
        return { stdout: `${arg}\n`, exitCode: 0 };
      case 'cat':
        return { stdout: ctx.stdin, exitCode: 0 };
      case 'cat-secret':
        return { stdout: SECRET, exitCode: 0 };
      case 'stderr':
        return { stdout: 'out', stderr: `${arg}\n`, exitCode: 0 };
      case 'bytes-out':
        return { stdout: Buffer.alloc(Number(arg), 'o'), exitCode: 0 };
      case 'bytes-err':
        return { stderr: Buffer.alloc(Number(arg), 'e'), exitCode: 0 };
      case 'exit':
        return { exitCode: Number(arg) };
      case 'sleep-ms':
        await new Promise((resolve) => setTimeout(resolve, Number(arg)));
        return { stdout: 'slept', exitCode: 0 };
      case 'block':
        this.events.emit('block', ctx);
        await new Promise<void>((resolve) => this.releases.push(resolve));
        return { stdout: 'released', exitCode: 0 };
      default:
        // Anything else (env-prefixed lines) goes to a real shell.
        return shell(ctx.command, ctx.stdin);
    }
  }
}

/** Verifier calls, and a verifier that does the InstanceSecret check through the untrusted executor. */
export function secretVerifier(expected = SECRET): { calls: Buffer[]; verify: SshExecutorOptions['verifyHostKey'] } {
  const calls: Buffer[] = [];
  return {
    calls,
    verify: async (key: Buffer, untrusted: Executor) => {
      calls.push(key);
      const res = await untrusted.execute('cat-secret');
      if (res.stdout.toString() !== expected) throw new Error('instance secret mismatch');
    },
  };
}

/** Call inside a describe: VMs and executors made through it are closed after each test. */
export function useTestVms(): {
  newVm: () => Promise<TestVm>;
  newExecutor: (vm: TestVm, opts?: Partial<SshExecutorOptions>) => SshExecutor;
  /** Closes `exr`, made by the test itself, after the test. */
  closeAfter: (exr: SshExecutor) => void;
} {
  const vms: TestVm[] = [];
  const executors: SshExecutor[] = [];

  async function newVm(): Promise<TestVm> {
    const vm = new TestVm();
    vms.push(vm);
    await vm.server.start();
    return vm;
  }

  function newExecutor(vm: TestVm, opts: Partial<SshExecutorOptions> = {}): SshExecutor {
    const exr = new SshExecutor({
      target: vm.server.address,
      username: 'crunch',
      privateKey: clientKey.private,
      verifyHostKey: secretVerifier().verify,
      connectTimeoutMs: 2000,
      ...opts,
    });
    executors.push(exr);
    return exr;
  }

  afterEach(async () => {
    for (const e of executors.splice(0)) e.close();
    for (const vm of vms) vm.releaseAll();
    await Promise.all(vms.splice(0).map((vm) => vm.server.close()));
  });
  return { newVm, newExecutor, closeAfter: (exr) => void executors.push(exr) };
}
