/**
 * One pass of `cloudtest`: create one instance the way the dispatcher
 * does, check the cloud lists it with every tag, boot-probe it over SSH
 * (trusting its host key only through the instance secret), optionally run
 * a command on it, and destroy it. Whatever fails, an instance this pass
 * created is destroyed before it returns.
 */
import { randomBytes } from 'node:crypto';
import type { Instance, InstanceSet, InstanceTags } from '../cloud/types.js';
import type { Clock } from '../clock/index.js';
import type { Cluster, InstanceType } from '../config/types.js';
import { addSecret, type Logger } from '../log.js';
import type { Executor } from '../ssh/executor.js';
import { resolveSshPort } from '../ssh/port.js';
import { SshExecutor } from '../ssh/ssh-executor.js';
import { TAG_IDLE_BEHAVIOR, TAG_INSTANCE_SECRET, TAG_INSTANCE_SET_ID, TAG_INSTANCE_TYPE } from '../worker/pool-config.js';
import { INSTANCE_SECRET_HEX_LENGTH } from '../worker/pool-create.js';
import { instanceInitCommand, withSudo } from '../arvados/crunch-run.js';
import { hostKeyVerifier } from '../worker/verify.js';
import { formatSeconds, StepFailedError, type StepReporter } from './steps.js';
import { awaitListed, destroyAllListed, type ListingContext, pauseUntil } from './listings.js';

/** Never wait longer than this between two cloud lists: the operator is watching. */
const MAX_LIST_POLL_MS = 5_000;
const MIN_POLL_MS = 100;
/** The destroy wait is TimeoutShutdown times this, and at least a minute. */
const SHUTDOWN_WAIT_FACTOR = 3;
const MIN_SHUTDOWN_WAIT_MS = 60_000;

export interface CloudTesterOptions {
  cluster: Cluster;
  /** Wrapped (ResourceTags merged, tag filtering), already built for this pass's DriverParameters. */
  instanceSet: InstanceSet;
  instanceSetId: string;
  instanceType: InstanceType;
  imageId: string;
  privateKey: string;
  /** OpenSSH public key line given to create ("" when DeployPublicKey is false). */
  publicKey: string;
  destroyExisting: boolean;
  /** Run on the instance after it boots; must exit 0. */
  command?: string;
  /** Tags beyond the dispatcher's own (e.g. CloudTestPID), also checked. */
  extraTags?: InstanceTags;
  report: StepReporter;
  /**
   * Drives the waits (list polls, probe interval, deadlines). The SSH
   * connection itself runs on real time whatever clock is given.
   */
  clock: Clock;
  logger: Logger;
  /** Aborting (e.g. on SIGINT) fails the current step; the instance is still destroyed. */
  signal?: AbortSignal;
  /**
   * Called once the steps are over (passed or failed) while the instance
   * still exists, after its login line: resolves when the operator is done
   * with it (--pause-before-destroy). Not called after an abort.
   */
  pauseBeforeDestroy?: (signal?: AbortSignal) => Promise<void>;
}

/** Runs one pass. Resolves on success; rejects with StepFailedError naming the first failed step. */
export async function runCloudTestPass(opts: CloudTesterOptions): Promise<void> {
  await new CloudTester(opts).run();
}

class CloudTester {
  private readonly vms;
  private readonly secret = randomBytes(INSTANCE_SECRET_HEX_LENGTH / 2).toString('hex');
  private readonly pollMs: number;
  /** The instance as last listed (or as create returned it). */
  private instance: Instance | undefined;
  private executor: Executor | undefined;
  private loginShown = false;
  /** TimeoutBooting after the create call began: how long a VM from a failed create is looked for. */
  private bootDeadline = 0;
  private readonly listings: ListingContext;

  constructor(private readonly o: CloudTesterOptions) {
    this.vms = o.cluster.Containers.CloudVMs;
    this.pollMs = Math.max(MIN_POLL_MS, Math.min(this.vms.SyncInterval, MAX_LIST_POLL_MS));
    this.listings = { instanceSet: o.instanceSet, clock: o.clock, logger: o.logger, pollMs: this.pollMs, signal: o.signal };
    addSecret(o.logger, this.secret);
  }

  private tag(name: string): string {
    return `${this.vms.TagKeyPrefix}${name}`;
  }

  async run(): Promise<void> {
    let failure: unknown;
    try {
      await this.steps();
    } catch (err) {
      failure = err;
    }
    this.executor?.close();
    // Cleanup runs even after an abort: leaving a VM billing is worse than a slow exit.
    try {
      if (this.instance) {
        if (this.o.pauseBeforeDestroy && !this.o.signal?.aborted) {
          // Most useful when a step failed: the operator can log in and look.
          this.showLogin();
          await this.o.pauseBeforeDestroy(this.o.signal);
        }
        await this.destroyStep();
      } else if (failure instanceof StepFailedError && failure.what.startsWith('create')) {
        await this.findOrphan();
      }
    } catch (err) {
      failure ??= err;
    }
    if (failure !== undefined) throw failure;
  }

  private async steps(): Promise<void> {
    const { report, instanceType: type } = this.o;
    const setFilter = { [this.tag(TAG_INSTANCE_SET_ID)]: this.o.instanceSetId };

    if (this.o.destroyExisting) {
      await report.run(`destroy any instances with InstanceSetID ${this.o.instanceSetId} and wait until they are gone`, () => destroyAllListed(this.listings, setFilter, this.shutdownWaitMs()), (n) =>
        n === 0 ? 'there were none' : `destroyed ${n}`,
      );
    } else {
      await report.run(`check that no instances with InstanceSetID ${this.o.instanceSetId} exist`, async () => {
        const found = await this.o.instanceSet.instances(setFilter);
        if (found.length > 0) {
          throw new Error(
            `found ${found.length} (${found.map((i) => i.id).join(', ')}): clean up, use --destroy-existing, or choose another --instance-set-id`,
          );
        }
      });
    }

    const tags = this.expectedTags();
    const initCommand = instanceInitCommand(this.secret, this.vms.InstanceInitCommand);
    const t0 = this.o.clock.now();
    const bootDeadline = t0 + this.vms.TimeoutBooting;
    this.bootDeadline = bootDeadline;
    const created = await report.run(
      `create a ${type.Name} instance (provider type ${type.ProviderType}, image ${this.o.imageId || '(none)'})`,
      () => this.o.instanceSet.create(type, this.o.imageId, tags, initCommand, this.o.publicKey),
      (inst) => `instance ${inst.id}`,
    );
    this.instance = created;
    this.o.logger.info('created test instance', { Instance: created.id, InstanceType: type.Name });

    await report.run(
      'wait for the instance to appear in the instance list (TimeoutBooting)',
      async () => {
        let lastError: unknown;
        for (;;) {
          try {
            if (await this.refresh()) return;
          } catch (err) {
            lastError = err;
          }
          if (this.o.clock.now() >= bootDeadline) {
            const why = lastError instanceof Error ? ` (last list error: ${lastError.message})` : '';
            throw new Error(`instance ${created.id} not listed within TimeoutBooting (${formatSeconds(this.vms.TimeoutBooting)})${why}`);
          }
          await pauseUntil(this.listings, this.pollMs, bootDeadline);
        }
      },
      () => (this.instance?.address ? `address ${this.instance.address}` : 'no address yet'),
    );

    await report.run('check the instance tags', async () => this.checkTags(tags));

    const probe = this.vms.BootProbeCommand.trim() || 'true';
    await report.run(`run the boot probe \`${probe}\` over SSH until it succeeds (TimeoutBooting)`, () => this.bootProbe(probe, bootDeadline));
    this.showLogin();

    const command = this.o.command;
    if (command) {
      const result = await report.run(`run the command \`${command}\``, async () => {
        const r = await this.withAbort(() => this.exec().execute(command));
        if (r.exitCode !== 0) {
          const err = r.stderr.toString().trim();
          throw new Error(`exit code ${r.exitCode}${err ? `; stderr: ${err}` : ''}`);
        }
        return r;
      });
      if (result.stdout.length > 0) report.note(`stdout:\n${result.stdout.toString()}`);
      if (result.stderr.length > 0) report.note(`stderr:\n${result.stderr.toString()}`);
    }
  }

  /** Prints the command to log in to the instance, once, when it has an address. */
  private showLogin(): void {
    const inst = this.instance;
    if (this.loginShown || !inst?.address) return;
    this.loginShown = true;
    // The address is `host` (SSHPort applies) or `host:port` (the lame cloud's).
    const m = /^(.*):(\d+)$/.exec(inst.address);
    const [host, port] = m ? [m[1], m[2]] : [inst.address, String(resolveSshPort(this.vms.SSHPort))];
    this.o.report.note(`login: ssh -p ${port} ${inst.remoteUser}@${host}`);
  }

  /** Every tag the dispatcher would set, plus ResourceTags and extras, as the cloud must list them. */
  private expectedTags(): InstanceTags {
    return {
      ...this.vms.ResourceTags,
      ...this.o.extraTags,
      [this.tag(TAG_INSTANCE_SET_ID)]: this.o.instanceSetId,
      [this.tag(TAG_INSTANCE_TYPE)]: this.o.instanceType.Name,
      [this.tag(TAG_IDLE_BEHAVIOR)]: 'run',
      [this.tag(TAG_INSTANCE_SECRET)]: this.secret,
    };
  }

  private checkTags(expected: InstanceTags): void {
    const got = this.instance?.tags ?? {};
    const wrong: string[] = [];
    for (const [k, v] of Object.entries(expected)) {
      if (got[k] === v) continue;
      // Never print the secret itself; saying that it differs is enough.
      const shown = k === this.tag(TAG_INSTANCE_SECRET) ? (got[k] === undefined ? 'missing' : 'a different value') : got[k] === undefined ? 'missing' : JSON.stringify(got[k]);
      wrong.push(k === this.tag(TAG_INSTANCE_SECRET) ? `${k}: ${shown}` : `${k}: expected ${JSON.stringify(v)}, got ${shown}`);
    }
    if (wrong.length > 0) throw new Error(`the listed instance has wrong tags: ${wrong.join('; ')}`);
  }

  private async bootProbe(command: string, deadline: number): Promise<void> {
    let last = 'no attempt made';
    for (let attempt = 1; ; attempt++) {
      if (!this.instance?.address) {
        last = 'the instance has no address yet';
      } else {
        const remaining = deadline - this.o.clock.now();
        try {
          const r = await this.withAbort(() => this.exec().execute(command, { timeoutMs: Math.max(1_000, Math.min(this.vms.TimeoutProbe, remaining)) }));
          if (r.exitCode === 0) return;
          const out = (r.stderr.toString() || r.stdout.toString()).trim();
          last = `exit code ${r.exitCode}${out ? `: ${out}` : ''}`;
        } catch (err) {
          if (this.o.signal?.aborted) throw err;
          last = err instanceof Error ? err.message : String(err);
        }
        this.o.logger.info('boot probe failed', { Instance: this.instance.id, Attempt: attempt, Result: last });
      }
      if (this.o.clock.now() + this.vms.ProbeInterval >= deadline) {
        throw new Error(
          `the boot probe did not succeed within TimeoutBooting (${formatSeconds(this.vms.TimeoutBooting)}) after ${attempt} attempts; last: ${last}`,
        );
      }
      await pauseUntil(this.listings, this.vms.ProbeInterval, deadline);
      // The address may appear or change while the VM boots.
      await this.refresh().catch((err: unknown) => this.o.logger.warn('listing instances failed', { error: err }));
    }
  }

  /** The executor for the current instance, made on first use, re-pointed when the address changes. */
  private exec(): Executor {
    const inst = this.instance;
    if (!inst) throw new Error('no instance');
    if (!this.executor) {
      this.executor =
        this.o.instanceSet.executorFor?.(inst) ??
        new SshExecutor({
          target: inst.address,
          defaultPort: resolveSshPort(this.vms.SSHPort),
          username: inst.remoteUser,
          privateKey: this.o.privateKey,
          // Through the latest listing, whose tags carry the secret the VM must show.
          verifyHostKey: (key, untrusted) => {
            const current = this.instance ?? inst;
            return hostKeyVerifier(current, this.tag(TAG_INSTANCE_SECRET), (cmd) => withSudo(cmd, current.remoteUser))(key, untrusted);
          },
          connectTimeoutMs: Math.max(5_000, Math.min(this.vms.ProbeInterval * 3, 60_000)),
          clock: this.o.clock,
          logger: this.o.logger.child({ Instance: inst.id }),
        });
    }
    return this.executor;
  }

  /** Re-lists; true when our instance is listed (and updates it and the executor's target). */
  private async refresh(): Promise<boolean> {
    const id = this.instance?.id;
    const listed = await this.o.instanceSet.instances({ [this.tag(TAG_INSTANCE_SET_ID)]: this.o.instanceSetId });
    const found = listed.find((i) => i.id === id);
    if (!found) return false;
    if (this.executor && found.address !== this.instance?.address) this.executor.setTarget(found.address);
    this.instance = found;
    return true;
  }

  private shutdownWaitMs(): number {
    return Math.max(MIN_SHUTDOWN_WAIT_MS, this.vms.TimeoutShutdown * SHUTDOWN_WAIT_FACTOR);
  }

  private async destroyStep(): Promise<void> {
    const inst = this.instance!;
    await this.o.report.run(`destroy instance ${inst.id} and wait until it is gone from the list`, async () => {
      const deadline = this.o.clock.now() + this.shutdownWaitMs();
      let destroyed = false;
      let lastError: unknown;
      for (;;) {
        if (!destroyed) {
          try {
            await inst.destroy();
            destroyed = true;
          } catch (err) {
            lastError = err;
            this.o.logger.warn('destroy failed; will retry', { Instance: inst.id, error: err });
          }
        }
        try {
          if (destroyed && !(await this.refresh())) {
            this.instance = undefined;
            return;
          }
        } catch (err) {
          lastError = err;
        }
        if (this.o.clock.now() >= deadline) {
          const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
          throw new Error(`instance ${inst.id} still listed ${formatSeconds(this.shutdownWaitMs())} after destroy: destroy it by hand${why}`);
        }
        // No abort signal here: this is the cleanup an interrupt asked for.
        await this.o.clock.sleep(Math.min(this.pollMs, Math.max(0, deadline - this.o.clock.now())));
      }
    });
  }

  /**
   * After a failed create: a create can fail after the cloud made the VM (a
   * timeout, a dropped answer), and a listing can lag behind a create, so
   * look for it by its secret at each listing until TimeoutBooting after
   * the create began, as the reference does, rather than leave it running.
   */
  private async findOrphan(): Promise<void> {
    const secretTag = this.tag(TAG_INSTANCE_SECRET);
    const filter = { [this.tag(TAG_INSTANCE_SET_ID)]: this.o.instanceSetId, [secretTag]: this.secret };
    const found = await this.o.report.run(
      'look for an instance the failed create may have made anyway (until TimeoutBooting)',
      () => awaitListed(this.listings, filter, (i) => i.tags[secretTag] === this.secret, this.bootDeadline),
      (i) => (i ? `found ${i.id}` : 'none'),
    );
    if (found) {
      this.instance = found;
      await this.destroyStep();
    }
  }

  /** Runs an SSH call; an abort closes the connection so the call ends now instead of at its timeout. */
  private async withAbort<T>(fn: () => Promise<T>): Promise<T> {
    const signal = this.o.signal;
    signal?.throwIfAborted();
    const onAbort = (): void => this.executor?.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await fn();
    } finally {
      signal?.removeEventListener('abort', onAbort);
      signal?.throwIfAborted();
    }
  }
}
