/**
 * The config keys this daemon reads, with their defaults and units: one table
 * per section. Defaults are those of Arvados's `config.default.yml` (a test
 * compares every CloudVMs and Containers default with that file).
 *
 * The tables also tell check-config which values to print back with units.
 */
import { bool, duration, int, num, object, size, str, stringList, stringMap, type Field } from './fields.js';

/** `Containers.CloudVMs`: strict, every key is known here (except inside DriverParameters). */
export const CLOUD_VMS_FIELDS = {
  Enable: bool(false),
  SSHPort: str('22'),
  PollInterval: duration('10s'),
  BootProbeCommand: str('systemctl is-system-running'),
  ProbeInterval: duration('10s'),
  MaxProbesPerSecond: int(10),
  TimeoutSignal: duration('5s'),
  TimeoutStaleRunLock: duration('5s'),
  TimeoutTERM: duration('2m'),
  MaxCloudOpsPerSecond: int(10),
  MaxConcurrentInstanceCreateOps: int(1),
  MaxInstances: int(64),
  MaxRunningContainersPerInstance: int(0),
  InitialQuotaEstimate: int(0),
  SupervisorFraction: num(0.5),
  SyncInterval: duration('1m'),
  TimeoutIdle: duration('1m'),
  TimeoutBooting: duration('10m'),
  TimeoutProbe: duration('10m'),
  TimeoutShutdown: duration('10s'),
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
 * The `Containers` keys this daemon uses. Not strict: `Containers` also holds
 * keys for the API server, crunch-run, SLURM and LSF. `DispatchPrivateKey` and
 * `CloudVMs` are read separately.
 */
export const CONTAINERS_FIELDS = {
  StaleLockTimeout: duration('1m'),
  ReserveExtraRAM: size('550MiB'),
  MaxDispatchAttempts: int(10),
  MaximumPriceFactor: num(1.5),
  PreemptiblePriceFactor: num(0),
  AlwaysUsePreemptibleInstances: bool(false),
  RuntimeEngine: str('docker'),
  CrunchRunCommand: str('crunch-run'),
  CrunchRunArgumentsList: stringList(),
  LocalKeepBlobBuffersPerVCPU: int(1),
} satisfies Record<string, Field<unknown>>;

/**
 * One `InstanceTypes.<name>` entry: strict. `Name` is accepted (and replaced
 * by the key), `Scratch` is the older spelling Arvados still accepts (checked
 * against IncludedScratch + AddedScratch); `GPU` and the deprecated `CUDA` are
 * read separately. Defaults are not those of the SAMPLE entry: Arvados drops
 * SAMPLE before applying defaults, so an unset IncludedScratch is 0.
 */
export const INSTANCE_TYPE_FIELDS = {
  Name: str(''),
  ProviderType: str(''),
  // Required: compileInstanceTypes reports a missing one.
  VCPUs: int(0, { positive: true }),
  RAM: size(0, { positive: true }),
  Scratch: size(0),
  IncludedScratch: size(0),
  AddedScratch: size(0),
  Price: num(0),
  Preemptible: bool(false),
} satisfies Record<string, Field<unknown>>;

/** `InstanceTypes.<name>.GPU`: strict. */
export const GPU_FIELDS = {
  Stack: str(''),
  DriverVersion: str(''),
  HardwareTarget: str(''),
  DeviceCount: int(0),
  VRAM: size(0),
} satisfies Record<string, Field<unknown>>;

/** `InstanceTypes.<name>.CUDA`, the form older Arvados releases used before GPU (stack "cuda", no VRAM). */
export const LEGACY_CUDA_FIELDS = {
  DriverVersion: str(''),
  HardwareCapability: str(''),
  DeviceCount: int(0),
} satisfies Record<string, Field<unknown>>;
