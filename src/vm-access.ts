/**
 * How the dispatcher reaches its VMs: the SSH key it logs in with, the SSH
 * executor for one VM (host key checked through the instance), and the
 * dispatch lock's fence around every command that acts.
 */
import type { Clock } from './clock/index.js';
import type { Instance } from './cloud/types.js';
import type { Cluster } from './config/types.js';
import type { Fence } from './dblock/fence.js';
import type { Logger, RateLimitedLog } from './log.js';
import type { Executor } from './ssh/executor.js';
import { generateSshKeyPair, publicKeyLine } from './ssh/keys.js';
import { sshReadablePrivateKey } from './ssh/pkcs8.js';
import { SshExecutor } from './ssh/ssh-executor.js';
import { withSudo } from './arvados/crunch-run.js';
import { poolCommandTimeoutMs, poolDuration } from './worker/pool-config.js';
import { hostKeyVerifier } from './worker/verify.js';

/**
 * How long a VM gets to finish the SSH handshake. One that accepts TCP but
 * never finishes it must not hold its probe for long; the next probe, a
 * ProbeInterval later, tries again.
 */
export function sshConnectTimeoutMs(vms: Cluster['Containers']['CloudVMs']): number {
  return Math.max(5_000, Math.min(poolDuration(vms, 'ProbeInterval') * 3, 60_000));
}

/**
 * The SSH executor for one VM: the dispatcher's key, the host key checked
 * through the instance (or its InstanceSecret). `warnings`, shared by all
 * VMs, rate-limits `SSH host key refused` across the fleet (each line names
 * its instance); without it each executor limits its own.
 */
export function vmSshExecutor(
  cluster: Cluster,
  instance: Instance,
  opts: { sshPort: number; privateKey: string; clock: Clock; logger: Logger; warnings?: RateLimitedLog },
): SshExecutor {
  const shared = opts.warnings;
  const vms = cluster.Containers.CloudVMs;
  return new SshExecutor({
    target: instance.address,
    defaultPort: opts.sshPort,
    username: instance.remoteUser,
    privateKey: opts.privateKey,
    verifyHostKey: hostKeyVerifier(instance, `${vms.TagKeyPrefix}InstanceSecret`, (cmd) => withSudo(cmd, instance.remoteUser)),
    connectTimeoutMs: sshConnectTimeoutMs(vms),
    // The pool passes its own timeout with each command; this default is
    // what the host key check's commands get (the instance secret read):
    // without it a VM whose read never answers holds its probe for good,
    // and is then never probed again nor shut down.
    commandTimeoutMs: poolCommandTimeoutMs(vms),
    clock: opts.clock,
    logger: opts.logger.child({ Instance: instance.id }),
    ...(shared ? { warnings: { warn: (message, fields, key) => shared.warn(message, { Instance: instance.id, ...fields }, key) } } : {}),
  });
}

/** `inner`, with the fence consulted before each command that acts (`ExecuteOptions.action`). */
export function fencedExecutor(inner: Executor, fence: Fence | undefined, instanceId: string): Executor {
  if (!fence) return inner;
  return {
    execute(command, options) {
      try {
        if (options?.action) fence.check({ ...options.action, Instance: instanceId });
      } catch (err) {
        return Promise.reject(err as Error);
      }
      return inner.execute(command, options);
    },
    setTarget: (address) => inner.setTarget(address),
    close: () => inner.close(),
    firstLoginAt: () => inner.firstLoginAt?.(),
  };
}

/**
 * The SSH key the dispatcher logs in with. With the lame driver and no key
 * configured, a throwaway key is generated: fine for a demo, but a restarted
 * dispatcher then cannot log in to the VMs the first one created.
 */
export function dispatcherKeys(cluster: Cluster, logger: Logger): { privateKey: string; publicKey: string } {
  let privateKey = cluster.Containers.DispatchPrivateKey;
  if (!privateKey) {
    if (cluster.Containers.CloudVMs.Driver !== 'lame') {
      throw new Error(`Clusters.${cluster.ClusterID}.Containers.DispatchPrivateKey: required to run the dispatcher, but empty`);
    }
    logger.warn('no DispatchPrivateKey configured: using a throwaway key (a restarted dispatcher will not be able to log in to these VMs)');
    privateKey = generateSshKeyPair().private;
  }
  const key = readDispatchKey(cluster, privateKey);
  return { privateKey: key.privateKey, publicKey: cluster.Containers.CloudVMs.DeployPublicKey ? key.publicKeyLine : '' };
}

/**
 * A DispatchPrivateKey as ssh2 takes it (PKCS#8 rewritten), with its public
 * key line. Throws, naming the key, for a key the daemon cannot log in with;
 * check-config calls this too, so that it refuses what a start would.
 */
export function readDispatchKey(cluster: Cluster, privateKey: string = cluster.Containers.DispatchPrivateKey): { privateKey: string; publicKeyLine: string } {
  try {
    const readable = sshReadablePrivateKey(privateKey);
    return { privateKey: readable, publicKeyLine: publicKeyLine(readable) };
  } catch (err) {
    throw new Error(`Clusters.${cluster.ClusterID}.Containers.DispatchPrivateKey: ${(err as Error).message}`);
  }
}
