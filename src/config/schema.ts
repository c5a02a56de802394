/**
 * The config keys this daemon reads, with their defaults and units: one table
 * per section. Defaults are those of Arvados's `config.default.yml` (a test
 * compares every CloudVMs and Containers default with that file).
 *
 * The tables also tell check-config which values to print back with units.
 */
import { bool, duration, int, num, type NumberRules, object, size, str, stringList, stringMap, type Field } from './fields.js';

/** A count or rate that limits nothing when 0, as when negative (Arvados tests `> 0`). */
const NO_LIMIT: NumberRules = { negative: 'no limit, as 0' };

/** A GPU figure that every container's request (0 or more) exceeds when negative. */
const NO_CONTAINER_FITS: NumberRules = { negative: 'no container fits this type, not even one that asks for no GPU' };

/** A worker pool timing, which the pool takes from its own defaults (the same as these) when it is 0 or negative. */
function poolDuration(def: string): Field<number> {
  return duration(def, { negative: `as 0: the worker pool's default, ${def}` });
}

/** `API`: the keys of it that the management server's request limiter reads. */
export const API_FIELDS = {
  // As in Arvados's request limiter, which tests `== 0` for "no limit".
  MaxConcurrentRequests: int(64, { negative: 'the management API handles no request: each waits until RequestTimeout, then gets 503 (0 means no limit)' }),
  MaxQueuedRequests: int(128, { negative: 'as 0: no request waits for a turn' }),
  MaxGatewayTunnels: int(1000, { negative: 'every gateway tunnel request is refused (0 means no limit)' }),
  // As the reference's request deadline: a waiting request gives up (503)
  // when it passes; 0 is none, and a negative one has passed at once.
  RequestTimeout: duration('5m', { negative: 'a request that has to wait for its turn gets 503 at once (0 means no deadline)' }),
};

/** `Containers.CloudVMs`: every key Arvados's defaults give it. */
export const CLOUD_VMS_FIELDS = {
  Enable: bool(false),
  SSHPort: str('22'),
  PollInterval: duration('10s', { negative: 'polls the controller back to back, as 0' }),
  BootProbeCommand: str('systemctl is-system-running'),
  ProbeInterval: poolDuration('10s'),
  MaxProbesPerSecond: int(10, { negative: 'as 0: the worker pool takes its default, 10' }),
  TimeoutSignal: poolDuration('5s'),
  TimeoutStaleRunLock: poolDuration('5s'),
  TimeoutTERM: poolDuration('2m'),
  MaxCloudOpsPerSecond: int(10, { negative: 'no rate limit on cloud calls, as 0' }),
  MaxConcurrentInstanceCreateOps: int(1, NO_LIMIT),
  MaxInstances: int(64, NO_LIMIT),
  MaxRunningContainersPerInstance: int(0, NO_LIMIT),
  InitialQuotaEstimate: int(0, { negative: 'as 0: the concurrency limit starts at MaxInstances' }),
  SupervisorFraction: num(0.5, { negative: 'no cap on workflow runners, as 0' }),
  SyncInterval: poolDuration('1m'),
  TimeoutIdle: poolDuration('1m'),
  TimeoutBooting: poolDuration('10m'),
  TimeoutProbe: poolDuration('10m'),
  TimeoutShutdown: poolDuration('10s'),
  ImageID: str(''),
  InstanceInitCommand: str(''),
  // The reference's default means "copy this dispatcher's own binary"; the
  // runner decides what that means for a dispatcher that is not crunch-run.
  DeployRunnerBinary: str('/proc/self/exe'),
  DeployRunnerDirectory: str('/tmp/arvados-crunch-run'),
  DeployPublicKey: bool(true),
  ResourceTags: stringMap(),
  TagKeyPrefix: str('Arvados'),
  // Not validated here: the driver registry knows which drivers exist.
  Driver: str('ec2'),
  DriverParameters: object(),
} satisfies Record<string, Field<unknown>>;

/**
 * The `Containers` keys this daemon uses (`Containers` also holds keys for
 * the API server, crunch-run, SLURM and LSF). `DispatchPrivateKey` and
 * `CloudVMs` are read separately.
 */
export const CONTAINERS_FIELDS = {
  StaleLockTimeout: duration('1m', { negative: 'does not wait for the workers to be probed before releasing stale locks, as 0' }),
  ReserveExtraRAM: size('550MiB', { negative: 'subtracted from the RAM each container is taken to need' }),
  MaxDispatchAttempts: int(10),
  MaximumPriceFactor: num(1.5, { negative: 'as 1: only the types priced as the cheapest that fits' }),
  PreemptiblePriceFactor: num(0, { negative: 'no preemptible variants, as 0' }),
  AlwaysUsePreemptibleInstances: bool(false),
  RuntimeEngine: str('docker'),
  CrunchRunCommand: str('crunch-run'),
  CrunchRunArgumentsList: stringList(),
  LocalKeepBlobBuffersPerVCPU: int(1, { negative: 'no local keepstore on the VMs (and no cluster config sent to crunch-run), as 0' }),
} satisfies Record<string, Field<unknown>>;

/**
 * One `InstanceTypes.<name>` entry. Defaults are not those of the SAMPLE
 * entry: Arvados drops SAMPLE from its defaults before using them, so an unset
 * IncludedScratch is 0. `GPU` is read separately. VCPUs and RAM take any
 * number, as in Arvados: a type without them is kept, with a warning, and
 * no container fits it.
 */
export const INSTANCE_TYPE_FIELDS = {
  ProviderType: str(''),
  VCPUs: int(0),
  RAM: size(0),
  IncludedScratch: size(0, { negative: 'subtracted from the type\'s scratch space (IncludedScratch + AddedScratch)' }),
  AddedScratch: size(0, { negative: 'subtracted from the type\'s scratch space (IncludedScratch + AddedScratch), and no disk is added' }),
  Price: num(0, { negative: 'used as given: this type sorts before every type that costs 0 or more' }),
  Preemptible: bool(false),
} satisfies Record<string, Field<unknown>>;

/** `InstanceTypes.<name>.GPU`. */
export const GPU_FIELDS = {
  Stack: str(''),
  DriverVersion: str(''),
  HardwareTarget: str(''),
  DeviceCount: int(0, NO_CONTAINER_FITS),
  VRAM: size(0, NO_CONTAINER_FITS),
} satisfies Record<string, Field<unknown>>;
