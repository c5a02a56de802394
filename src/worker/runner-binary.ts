/**
 * The crunch-run binary the pool copies to each VM, read once at start.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Cluster } from '../config/types.js';
import type { Logger } from '../log.js';
import type { RunnerBinary } from './pool-config.js';
import { runnerBinaryToDeploy, SELF_EXE_RUNNER } from './pool-config.js';

/**
 * The crunch-run binary to deploy, when DeployRunnerBinary names one. The
 * reference's default, /proc/self/exe, means "this program", which for the
 * reference is a binary that contains crunch-run; ours is a Node process, so
 * that value means the VM image provides crunch-run itself.
 */
export function loadRunnerBinary(cluster: Cluster, logger: Logger): RunnerBinary | undefined {
  const configured = cluster.Containers.CloudVMs.DeployRunnerBinary;
  if (configured === SELF_EXE_RUNNER) {
    logger.info('DeployRunnerBinary is /proc/self/exe: this dispatcher is not a crunch-run binary, so crunch-run must be on the VM image', {
      CrunchRunCommand: cluster.Containers.CrunchRunCommand,
    });
  }
  const path = runnerBinaryToDeploy(cluster.Containers.CloudVMs);
  if (path === undefined) return undefined;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`Clusters.${cluster.ClusterID}.Containers.CloudVMs.DeployRunnerBinary: cannot read ${path}: ${(err as Error).message}`);
  }
  return { md5hex: createHash('md5').update(bytes).digest('hex'), bytes };
}
