/**
 * One lame VM: its SSH server (ssh transport), boot time, emulated
 * filesystem (a map of path to bytes: the instance secret, deployed runner
 * binaries, crunch-run's price file) and crunch-run processes (one per
 * container, keyed by UUID as crunch-run's lockfiles are).
 */
import type { InstanceTags } from '../../src/cloud/types.js';
import type { InstanceType } from '../../src/config/types.js';
import type { Logger } from '../../src/log.js';
import type { Executor } from '../../src/ssh/executor.js';
import { INSTANCE_SECRET_PATH, parseInitCommandSecret } from '../../src/arvados/crunch-run.js';
import type { LameCloud } from './cloud.js';
import { runCommand } from './commands.js';
import { DiskCache } from './disk-cache.js';
import type { CrunchRunProcess } from './crunch-run.js';
import { InProcessExecutor } from './inprocess.js';
import { type CommandContext, type CommandResult, generateHostKey, SshServer } from './sshd.js';

export interface LameVMSpec {
  id: string;
  instanceType: InstanceType;
  imageId: string;
  tags: InstanceTags;
  initCommand: string;
  publicKey: string;
  /** Epoch ms on the cloud's clock. */
  createdAt: number;
  /** The zone the cloud placed it in; undefined when the cloud has no Zones. */
  zone?: string;
  /** When the boot probe starts to succeed. */
  bootAt: number;
  /** When `crunch-run --list` starts to print `broken`; undefined: never. */
  brokenAt: number | undefined;
  /** True: the boot probe never succeeds (bootAt is then never reached), until `setBooted()`. */
  neverBoots?: boolean;
}

export class LameVM {
  readonly id: string;
  readonly instanceType: InstanceType;
  readonly imageId: string;
  readonly initCommand: string;
  readonly publicKey: string;
  readonly createdAt: number;
  /** The zone the cloud placed it in (`Zones`); undefined when the cloud has none. */
  readonly zone: string | undefined;
  /** Provider-side tags; `setTags` replaces the whole object. */
  tags: InstanceTags;
  bootAt: number;
  brokenAt: number | undefined;
  /** The VM hangs in boot: `booted` stays false whatever the clock says, until `setBooted()`. */
  neverBoots: boolean;
  state: 'running' | 'terminated' = 'running';
  /** The emulated filesystem: absolute path to content. */
  readonly files = new Map<string, Buffer>();
  /** crunch-run processes by container UUID: each stands for the process and its lockfile. */
  readonly processes = new Map<string, CrunchRunProcess>();
  /** Images and input collections on this VM's disk (the cost model of `disk-cache.ts`). */
  readonly disk = new DiskCache(() => this.cloud.params.LocalCacheSize);
  readonly logger: Logger;
  private server: SshServer | undefined;
  private sshAddress: string | undefined;
  private nextPid = 1000;

  constructor(
    readonly cloud: LameCloud,
    spec: LameVMSpec,
  ) {
    this.id = spec.id;
    this.instanceType = spec.instanceType;
    this.imageId = spec.imageId;
    this.initCommand = spec.initCommand;
    this.publicKey = spec.publicKey;
    this.createdAt = spec.createdAt;
    this.zone = spec.zone;
    this.tags = { ...spec.tags };
    this.bootAt = spec.bootAt;
    this.brokenAt = spec.brokenAt;
    this.neverBoots = spec.neverBoots ?? false;
    this.logger = cloud.ctx.logger.child({ Instance: spec.id });
    // The init command runs early in boot (cloud-init), before sshd accepts
    // anyone, so the secret is in place whenever the dispatcher can connect;
    // unless a line before it ends the script.
    const secret = parseInitCommandSecret(linesRun(spec.initCommand));
    if (secret !== undefined) this.files.set(INSTANCE_SECRET_PATH, Buffer.from(secret));
  }

  /** Starts the VM's SSH server (ssh transport); in-process VMs have nothing to start. */
  async start(): Promise<void> {
    if (this.cloud.params.Transport !== 'ssh') return;
    const keys = [this.publicKey, ...this.cloud.params.AuthorizedKeys].filter((k) => k.trim() !== '');
    const server = new SshServer({
      hostKey: generateHostKey().private,
      authorizedKeys: keys,
      handler: (ctx) => this.handle(ctx),
    });
    await server.start();
    this.server = server;
    this.sshAddress = server.address;
  }

  /** `127.0.0.1:PORT` (ssh), or a name that resolves nowhere (in-process: no socket to reach). */
  get address(): string {
    return this.sshAddress ?? `${this.id}.lame.invalid`;
  }

  /** The user the dispatcher logs in as. */
  get remoteUser(): string {
    return this.cloud.params.AdminUsername;
  }

  /** The SSH host key (public blob), for tests that check what the executor saw. */
  get hostPublicKey(): Buffer | undefined {
    return this.server?.hostPublicKey;
  }

  /** True once the boot time has passed (and until termination); never for a VM that hangs in boot. */
  get booted(): boolean {
    return this.state === 'running' && !this.neverBoots && this.cloud.ctx.clock.now() >= this.bootAt;
  }

  /** True when `crunch-run --list` prints `broken`. */
  get reportsBroken(): boolean {
    return this.brokenAt !== undefined && this.cloud.ctx.clock.now() >= this.brokenAt;
  }

  /** Runs one command as the VM's shell would (the SSH server's handler). */
  handle(ctx: CommandContext): Promise<CommandResult> {
    return runCommand(this, ctx);
  }

  /** A fresh pid for a new crunch-run process. */
  allocatePid(): number {
    return this.nextPid++;
  }

  // ------------------------------------------------------------ test hooks

  /** Finishes booting now: the boot probe succeeds from here on (also for a VM that would never boot). */
  setBooted(): void {
    this.neverBoots = false;
    this.bootAt = Math.min(this.bootAt, this.cloud.ctx.clock.now());
  }

  /** Makes `crunch-run --list` report `broken` from now on (a VM whose docker died, say). */
  break(): void {
    this.brokenAt = this.cloud.ctx.clock.now();
  }

  /**
   * Kills the container's crunch-run without letting it update the
   * container (an OOM kill, say). Its lock stays held for `staleLockMs`
   * (default: the StaleLockTime parameter), during which `--list` shows
   * `UUID stale`. Returns false when no live crunch-run has that UUID.
   */
  crashCrunchRun(uuid: string, opts: { staleLockMs?: number } = {}): boolean {
    const proc = this.processes.get(uuid);
    if (!proc || !proc.alive) return false;
    proc.crash(opts.staleLockMs ?? this.cloud.params.StaleLockTime);
    return true;
  }

  /** The container UUIDs whose crunch-run is alive. */
  runningContainers(): string[] {
    return [...this.processes.values()].filter((p) => p.alive).map((p) => p.uuid);
  }

  /** Cuts every SSH connection (a network blip); the server keeps listening. No-op in-process. */
  dropConnections(): void {
    this.server?.dropConnections();
  }

  /** Open SSH connections to this VM (0 in-process). */
  connectionCount(): number {
    return this.server?.connectionCount() ?? 0;
  }

  /** An executor that calls this VM's handler directly, whatever the transport. */
  executor(username = this.remoteUser): Executor {
    return new InProcessExecutor(this.cloud, this.id, username);
  }

  // ------------------------------------------------------------ lifecycle

  /** Termination: every process vanishes without a word, the SSH server closes. Idempotent. */
  async terminate(): Promise<void> {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    for (const proc of this.processes.values()) proc.vanish();
    const server = this.server;
    this.server = undefined;
    await server?.close();
  }
}

/**
 * The part of an init script a shell gets through: every line before the
 * first one that ends the script (`exit ...`, `exec ...`).
 */
export function linesRun(script: string): string {
  const lines = script.split('\n');
  const end = lines.findIndex((line) => /^\s*(exit|exec)(\s|$)/.test(line));
  return (end < 0 ? lines : lines.slice(0, end)).join('\n');
}
