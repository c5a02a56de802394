/**
 * What the worker pool is built from (`PoolDeps`), and the settings it
 * derives once from the cluster config (`PoolConfig`), so the rest of the
 * pool reads plain numbers and strings instead of walking `Cluster`.
 */
import type { Instance, InstanceSet } from '../cloud/types.js';
import type { Clock } from '../clock/index.js';
import type { Cluster } from '../config/types.js';
import type { Logger } from '../log.js';
import type { IdleStretcher } from './idle-stretch.js';
import type { Executor } from '../ssh/executor.js';
import { deployedRunnerPath } from './runner.js';
import type { StartOutcome } from './remote-runner.js';

/**
 * The reference's default DeployRunnerBinary: its own executable, which
 * carries crunch-run. Ours is a Node process, so that value means "deploy
 * nothing: crunch-run is on the VM image" (run as CrunchRunCommand).
 */
export const SELF_EXE_RUNNER = '/proc/self/exe';

/**
 * The file DeployRunnerBinary asks to copy to each VM, or undefined when
 * nothing is to be deployed (empty, or the reference's /proc/self/exe). The
 * dispatcher loads exactly this file, and the pool is unhealthy exactly when
 * it names one that was not loaded: both decide by this function.
 */
export function runnerBinaryToDeploy(vm: { DeployRunnerBinary: string }): string | undefined {
  const path = vm.DeployRunnerBinary;
  return path === '' || path === SELF_EXE_RUNNER ? undefined : path;
}

/** The crunch-run binary to copy to each VM (`Containers.CloudVMs.DeployRunnerBinary`, loaded by the dispatcher). */
export interface RunnerBinary {
  /** Lower-case hex MD5 of `bytes`: names the file on the VM and is checked with `md5sum`. */
  md5hex: string;
  bytes: Buffer;
}

/** Everything the pool needs from outside; the dispatcher builds these once. */
export interface PoolDeps {
  cluster: Cluster;
  /** The driver's instance set, already wrapped (`wrapInstanceSet`): rate-limited and tag-filtered. */
  instanceSet: InstanceSet;
  /** One executor per worker; the dispatcher's builds an SshExecutor that verifies host keys with `hostKeyVerifier`. */
  newExecutor: (instance: Instance) => Executor;
  clock: Clock;
  logger: Logger;
  /** The value of the `<TagKeyPrefix>InstanceSetID` tag this dispatcher owns. */
  instanceSetId: string;
  /** The dispatcher's OpenSSH public key line, given to create; '' when DeployPublicKey is false. */
  publicKey: string;
  /** Set when DeployRunnerBinary is configured and could be read. */
  runnerBinary?: RunnerBinary | undefined;
  /**
   * Told of the moments the timing metrics measure and the container
   * timeline records. Optional, so the pool knows nothing of metrics or
   * timelines and tests need not pass it; an exception it
   * throws is logged and otherwise ignored.
   */
  onEvent?: (event: PoolEvent) => void;
  /** Keeps idle workers to the end of their paid period (settings file `Billing.StretchIdle`); absent: shut down at TimeoutIdle. */
  idleStretch?: IdleStretcher;
}

/**
 * A moment in a worker's or a container's life that the metrics time (the
 * reference's `instances_time_to_ssh_seconds`,
 * `instances_time_to_ready_for_container_seconds`,
 * `containers_time_from_queue_to_crunch_run_seconds`,
 * `instances_time_from_shutdown_request_to_disappearance_seconds` and
 * `instances_run_probe_duration_seconds`), or that the container timeline
 * records (`src/timeline/`). Durations in ms.
 */
export type PoolEvent =
  /**
   * SSH works on a booting worker: its first connection logged in (or, when
   * the executor cannot tell, a boot probe answered); reported by the boot
   * probe that used it. `sinceAppearedMs` counts from create (or first
   * listing) to that moment.
   */
  | { type: 'sshConnected'; instanceId: string; sinceAppearedMs: number }
  /** A booting worker passed its boot probe and is ready for containers; counts from the moment `sshConnected` timed. */
  | { type: 'readyForContainer'; instanceId: string; sinceSshMs: number }
  /**
   * A `crunch-run --detach` returned, whatever its outcome, even on a worker
   * gone meanwhile; counts from the container's created_at (NaN when that
   * is unreadable). The reference's
   * `containers_time_from_queue_to_crunch_run_seconds` times every such
   * attempt, failed ones included. When crunch-run refused the start:
   * its exit code and the first line of its stderr.
   */
  | { type: 'crunchRunStartReturned'; instanceId: string; containerUUID: string; sinceQueuedMs: number; outcome: StartOutcome; exitCode?: number; stderr?: string }
  /** `crunch-run --detach` succeeded; counts from the container's created_at. */
  | { type: 'crunchRunStarted'; instanceId: string; containerUUID: string; sinceQueuedMs: number; instanceType?: string }
  /** A destroy call for the worker succeeded (the first time): the cloud is terminating it. */
  | { type: 'instanceDestroyed'; instanceId: string }
  /** A worker we had asked the cloud to destroy left the cloud list; counts from the latest destroy request. */
  | { type: 'shutdownToGone'; instanceId: string; sinceShutdownMs: number }
  /** One `crunch-run --list` probe ended (`fail`: no answer, or a non-zero exit). */
  | { type: 'probeRun'; instanceId: string; outcome: 'success' | 'fail'; durationMs: number }
  /** The cloud answered a create: `pendingId` is the placeholder id `create()` returned for it (for the container timeline). */
  | { type: 'instanceCreated'; instanceId: string; pendingId: string; instanceType: string }
  /** A probe found a crunch-run this pool did not start (a previous dispatcher process did): adopted. */
  | { type: 'crunchRunDetected'; instanceId: string; containerUUID: string }
  /**
   * The provider took the VM back, or is about to: `notice` when it first
   * says so (the listing's `reclaimed`, or crunch-run's interruption notice)
   * while the VM is still there; `gone` when a VM left the cloud list without
   * a destroy call and was preemptible or had a notice. `containers` ran on
   * it then (their work is lost when it is gone).
   */
  | {
      type: 'instanceReclaimed';
      phase: 'notice' | 'gone';
      instanceId: string;
      instanceType: string;
      zone: string;
      preemptible: boolean;
      containers: string[];
      reason: string;
    };

/** Tag names (without TagKeyPrefix) the pool reads and writes (ARVADOS.md section 3). */
export const TAG_INSTANCE_SET_ID = 'InstanceSetID';
export const TAG_INSTANCE_TYPE = 'InstanceType';
export const TAG_IDLE_BEHAVIOR = 'IdleBehavior';
export const TAG_INSTANCE_SECRET = 'InstanceSecret';

/** After a QuotaError, creates wait this long unless an instance goes away first (the reference's quotaErrorTTL). */
export const QUOTA_ERROR_TTL_MS = 60_000;
/** After a CapacityError, that type (or group, or every type) is skipped this long (the reference's capacityErrorTTL). */
export const CAPACITY_ERROR_TTL_MS = 60_000;
/**
 * After a create fails for a reason that is neither quota, capacity nor rate
 * limit, creates pause this long, so a failing provider is not hammered by
 * every scheduling pass (one every ~250 ms when busy). The reference does not
 * pause at all; a longer pause cost the chaos test (10% create errors) much
 * of its throughput, and one second is enough to stop a tight failing loop.
 */
export const CREATE_ERROR_BACKOFF_MS = 1_000;
/** Repeated identical warnings (probe failures, create errors) are logged at most this often. */
export const WARNING_LOG_INTERVAL_MS = 60_000;
/** The reference's fallback when MaxProbesPerSecond is below 1. */
export const DEFAULT_MAX_PROBES_PER_SECOND = 10;

/**
 * The reference pool's own defaults (ms), which it takes for any of these
 * settings that is 0 or less: a zero there means "unset", not "never" or
 * "at once" (a zero SyncInterval would list the cloud in a tight loop, a
 * zero TimeoutIdle would shut down every VM the moment it became idle).
 */
export const POOL_DURATION_DEFAULTS = {
  ProbeInterval: 10_000,
  SyncInterval: 60_000,
  TimeoutIdle: 60_000,
  TimeoutBooting: 600_000,
  TimeoutProbe: 600_000,
  TimeoutShutdown: 10_000,
  TimeoutTERM: 120_000,
  TimeoutSignal: 5_000,
  TimeoutStaleRunLock: 5_000,
} as const;

type PoolDurationKey = keyof typeof POOL_DURATION_DEFAULTS;

/** `vm[key]` when it is more than 0, else the pool's default for it: what the pool runs with. */
export function poolDuration(vm: Record<PoolDurationKey, number>, key: PoolDurationKey): number {
  const ms = vm[key];
  return ms > 0 ? ms : POOL_DURATION_DEFAULTS[key];
}

/**
 * The deadline for one remote command (`PoolConfig.commandTimeout`):
 * ProbeInterval, and at least a minute, so a short ProbeInterval does not
 * fail a VM that is slow but working. The VMs' SSH executors take it as
 * their default too, which bounds the commands the host key check runs.
 */
export function poolCommandTimeoutMs(vm: Record<PoolDurationKey, number>): number {
  return Math.max(poolDuration(vm, 'ProbeInterval'), 60_000);
}

/** The pool's settings, derived from the cluster config once. Durations in ms. */
export interface PoolConfig {
  clusterId: string;
  tagKeyPrefix: string;
  imageId: string;
  instanceInitCommand: string;
  /** What runs crunch-run on a VM: the deployed runner's path, or `Containers.CrunchRunCommand`. */
  crunchRunCommand: string;
  runtimeEngine: string;
  crunchRunArguments: readonly string[];
  /** `BootProbeCommand`, or `true` when it is empty (the reference's rule). */
  bootProbeCommand: string;
  runner: RunnerBinary | undefined;
  /** DeployRunnerBinary is configured but the dispatcher could not load it: no VM can become ready. */
  runnerMissing: boolean;
  probeInterval: number;
  maxProbesPerSecond: number;
  syncInterval: number;
  timeoutIdle: number;
  timeoutBooting: number;
  timeoutProbe: number;
  timeoutShutdown: number;
  timeoutTERM: number;
  timeoutSignal: number;
  timeoutStaleRunLock: number;
  maxConcurrentCreates: number;
  maxInstances: number;
  maxRunningPerInstance: number;
  /**
   * Deadline for one probe-like command (boot probe, `--list`, `md5sum`,
   * `--kill`, `--detach`). A command that hangs would otherwise block every
   * later probe of its worker, and with them the boot and probe timeouts.
   */
  commandTimeout: number;
  /** Deadline for copying the runner binary, which may be tens of MB over a slow link. */
  installTimeout: number;
}

/** The pool's settings from `cluster`; a duration of 0 or less takes the pool's default (`POOL_DURATION_DEFAULTS`). */
export function compilePoolConfig(cluster: Cluster, runner: RunnerBinary | undefined): PoolConfig {
  const c = cluster.Containers;
  const vm = c.CloudVMs;
  const probeInterval = poolDuration(vm, 'ProbeInterval');
  const timeoutBooting = poolDuration(vm, 'TimeoutBooting');
  return {
    clusterId: cluster.ClusterID,
    tagKeyPrefix: vm.TagKeyPrefix,
    imageId: vm.ImageID,
    instanceInitCommand: vm.InstanceInitCommand,
    crunchRunCommand: runner ? deployedRunnerPath(vm.DeployRunnerDirectory, runner.md5hex) : c.CrunchRunCommand,
    runtimeEngine: c.RuntimeEngine,
    crunchRunArguments: [...c.CrunchRunArgumentsList],
    bootProbeCommand: vm.BootProbeCommand.trim() || 'true',
    runner,
    runnerMissing: runnerBinaryToDeploy(vm) !== undefined && runner === undefined,
    probeInterval,
    maxProbesPerSecond: vm.MaxProbesPerSecond >= 1 ? vm.MaxProbesPerSecond : DEFAULT_MAX_PROBES_PER_SECOND,
    syncInterval: poolDuration(vm, 'SyncInterval'),
    timeoutIdle: poolDuration(vm, 'TimeoutIdle'),
    timeoutBooting,
    timeoutProbe: poolDuration(vm, 'TimeoutProbe'),
    timeoutShutdown: poolDuration(vm, 'TimeoutShutdown'),
    timeoutTERM: poolDuration(vm, 'TimeoutTERM'),
    timeoutSignal: poolDuration(vm, 'TimeoutSignal'),
    timeoutStaleRunLock: poolDuration(vm, 'TimeoutStaleRunLock'),
    maxConcurrentCreates: vm.MaxConcurrentInstanceCreateOps,
    maxInstances: vm.MaxInstances,
    maxRunningPerInstance: vm.MaxRunningContainersPerInstance,
    commandTimeout: poolCommandTimeoutMs(vm),
    installTimeout: Math.max(timeoutBooting, 60_000),
  };
}
