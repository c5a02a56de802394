/**
 * The config keys this daemon reads, with their defaults and units: one table
 * per section. Defaults are those of Arvados's `config.default.yml` (a test
 * compares every CloudVMs and Containers default with that file).
 *
 * The tables also tell check-config which values to print back with units.
 */
import { bool, duration, int, num, object, size, str, stringList, stringMap, type Field } from './fields.js';

/** `Containers.CloudVMs`: every key Arvados's defaults give it. */
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
 * The `Containers` keys this daemon uses (`Containers` also holds keys for
 * the API server, crunch-run, SLURM and LSF). `DispatchPrivateKey` and
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
 * One `InstanceTypes.<name>` entry. Defaults are not those of the SAMPLE
 * entry: Arvados drops SAMPLE before applying defaults, so an unset
 * IncludedScratch is 0. `GPU` is read separately. VCPUs and RAM take any
 * number, as in Arvados: a type without them is kept, with a warning, and
 * no container fits it.
 */
export const INSTANCE_TYPE_FIELDS = {
  ProviderType: str(''),
  VCPUs: int(0, { min: -Infinity }),
  RAM: size(0, { min: -Infinity }),
  IncludedScratch: size(0),
  AddedScratch: size(0),
  Price: num(0),
  Preemptible: bool(false),
} satisfies Record<string, Field<unknown>>;

/** `InstanceTypes.<name>.GPU`. */
export const GPU_FIELDS = {
  Stack: str(''),
  DriverVersion: str(''),
  HardwareTarget: str(''),
  DeviceCount: int(0),
  VRAM: size(0),
} satisfies Record<string, Field<unknown>>;
