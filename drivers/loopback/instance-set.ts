/**
 * The loopback driver's InstanceSet and Instance: a "cloud" of one instance,
 * this host. Creating it starts an SSH server on 127.0.0.1 with a fresh host
 * key, accepting only the dispatcher's public key, whose commands run on
 * this host as the user the dispatcher runs as (`shell.ts`). Destroying it
 * stops that server; containers it started are processes of this host and
 * are left alone, as they would be on a VM the dispatcher lost track of.
 */
import type { ChildProcess } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { QuotaError } from '../../src/cloud/errors.js';
import type { DriverContext, Instance, InstanceSet, InstanceTags } from '../../src/cloud/types.js';
import type { InstanceType } from '../../src/config/types.js';
import { generateSshKeyPair } from '../../src/ssh/keys.js';
import { SshServer } from '../lame/sshd.js';
import { release, runOnHost } from './shell.js';

/** Where crunch-run marks a host it found unable to run containers. */
export const BROKEN_FLAG_PATH = '/var/lock/crunch-run-broken';

export interface LoopbackOptions {
  /** The user commands run as, reported as the instance's remote user. */
  username: string;
  /** Default BROKEN_FLAG_PATH; tests point it elsewhere. */
  brokenFlagPath?: string;
}

/** The one instance: what every Instance object for it shares. */
interface HostRecord {
  providerType: string;
  tags: InstanceTags;
  server: SshServer;
  destroyed: boolean;
}

/** A snapshot of the instance, as a listing or create returned it. */
export class LoopbackInstance implements Instance {
  readonly id: string;
  readonly providerType: string;
  readonly tags: InstanceTags;
  readonly address: string;
  readonly remoteUser: string;

  constructor(
    private readonly set: LoopbackInstanceSet,
    private readonly host: HostRecord,
    remoteUser: string,
  ) {
    // The type's ProviderType ("localhost" for the implicit type) is the id:
    // there is only ever one instance, and the name is stable across restarts.
    this.id = host.providerType;
    this.providerType = host.providerType;
    this.tags = { ...host.tags };
    this.address = host.server.address;
    this.remoteUser = remoteUser;
  }

  async setTags(tags: InstanceTags): Promise<void> {
    this.host.tags = { ...tags };
  }

  destroy(): Promise<void> {
    return this.set.destroyHost(this.host);
  }

  /** The host key must be the one generated for this instance's SSH server: no other server is this instance. */
  async verifyHostKey(key: Buffer): Promise<void> {
    const want = this.host.server.hostPublicKey;
    if (key.length !== want.length || !timingSafeEqual(key, want)) {
      throw new Error(`loopback instance ${this.id}: host key mismatch`);
    }
  }
}

export class LoopbackInstanceSet implements InstanceSet {
  private readonly username: string;
  private readonly brokenFlagPath: string;
  private host: HostRecord | undefined;
  private creating = false;
  private stopped = false;
  /** Commands still running, released at stop so they do not keep the process alive. */
  private readonly children = new Set<ChildProcess>();

  constructor(
    private readonly ctx: DriverContext,
    opts: LoopbackOptions,
  ) {
    this.username = opts.username;
    this.brokenFlagPath = opts.brokenFlagPath ?? BROKEN_FLAG_PATH;
  }

  /**
   * Starts the instance. Only one can exist: any other create fails with a
   * QuotaError, which makes the dispatcher wait for the instance to go away.
   */
  async create(type: InstanceType, _imageId: string, tags: InstanceTags, _initCommand: string, publicKey: string): Promise<Instance> {
    if (this.stopped) throw new Error('loopback: instance set used after stop()');
    if (this.host || this.creating) throw new QuotaError('loopback driver is always at quota');
    if (publicKey.trim() === '') throw new Error('loopback: no public key to accept (Containers.CloudVMs.DeployPublicKey must be true)');
    this.creating = true;
    try {
      await this.clearBrokenFlag();
      const server = new SshServer({
        hostKey: generateSshKeyPair().private,
        authorizedKeys: [publicKey],
        channelHandler: (channel, cmd) => runOnHost(channel, cmd, this.children),
      });
      await server.start();
      if (this.stopped) {
        // stop() came while the server was starting: nothing may listen after it.
        await server.close();
        throw new Error('loopback: instance set stopped while the instance was being created');
      }
      this.host = { providerType: type.ProviderType, tags: { ...tags }, server, destroyed: false };
      return new LoopbackInstance(this, this.host, this.username);
    } finally {
      this.creating = false;
    }
  }

  /** The instance, if there is one. The tag filter is left to the wrapper, as the contract allows. */
  async instances(_tagFilter: InstanceTags): Promise<Instance[]> {
    return this.host ? [new LoopbackInstance(this, this.host, this.username)] : [];
  }

  /** Closes the SSH server and lets running commands go on without this process. */
  stop(): void {
    this.stopped = true;
    void this.host?.server.close();
    for (const child of this.children) release(child);
    this.children.clear();
  }

  /** Removes the instance from the list and closes its SSH server; again is a no-op. */
  async destroyHost(host: HostRecord): Promise<void> {
    if (host.destroyed) return;
    host.destroyed = true;
    if (this.host === host) this.host = undefined;
    await host.server.close();
  }

  /**
   * crunch-run on a previous instance may have flagged this host as broken.
   * A new "instance" here is the same host, so nothing else would ever clear
   * the flag: clearing it and trying again is the best that can be done.
   */
  private async clearBrokenFlag(): Promise<void> {
    try {
      await unlink(this.brokenFlagPath);
      this.ctx.logger.info(`removed ${this.brokenFlagPath}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}
