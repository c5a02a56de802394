/**
 * The compiled cluster configuration: every field present, defaults applied,
 * units resolved. Field names are the Arvados config key names, so a key in
 * `/etc/arvados/config.yml` and the field that holds its value read the same.
 *
 * Units: every duration is a number of milliseconds; every size (RAM,
 * scratch, VRAM) is a number of bytes; prices are per hour.
 */

/** GPU features of an instance type (`InstanceTypes.<name>.GPU`). */
export interface GPUFeatures {
  /** `cuda`, `rocm` or "" for none. */
  Stack: string;
  /** Driver version, compared as numbers ("11.0" < "12.4"). */
  DriverVersion: string;
  /** CUDA compute capability (e.g. "9.0") or ROCm target. */
  HardwareTarget: string;
  DeviceCount: number;
  /** Memory per device, bytes. */
  VRAM: number;
}

/** One entry of `InstanceTypes`, including the generated `.preemptible` variants. */
export interface InstanceType {
  /** The Arvados name: the key under `InstanceTypes` (plus `.preemptible` for variants). */
  Name: string;
  /** The provider's name for the type; defaults to `Name` (without the `.preemptible` suffix). */
  ProviderType: string;
  VCPUs: number;
  /** Bytes. */
  RAM: number;
  /** Bytes: `IncludedScratch + AddedScratch`. */
  Scratch: number;
  /** Bytes of scratch the type comes with. */
  IncludedScratch: number;
  /** Bytes of scratch the driver must attach as an extra volume. */
  AddedScratch: number;
  /** Per hour. */
  Price: number;
  Preemptible: boolean;
  GPU: GPUFeatures;
}

/** `Containers.CloudVMs`. Durations in ms. */
export interface CloudVMsConfig {
  Enable: boolean;
  SSHPort: string;
  PollInterval: number;
  BootProbeCommand: string;
  ProbeInterval: number;
  MaxProbesPerSecond: number;
  TimeoutSignal: number;
  TimeoutStaleRunLock: number;
  TimeoutTERM: number;
  MaxCloudOpsPerSecond: number;
  MaxConcurrentInstanceCreateOps: number;
  /** 0 means no limit. */
  MaxInstances: number;
  /** 0 means no limit. */
  MaxRunningContainersPerInstance: number;
  InitialQuotaEstimate: number;
  SupervisorFraction: number;
  SyncInterval: number;
  TimeoutIdle: number;
  TimeoutBooting: number;
  TimeoutProbe: number;
  TimeoutShutdown: number;
  ImageID: string;
  InstanceInitCommand: string;
  DeployRunnerBinary: string;
  DeployRunnerDirectory: string;
  DeployPublicKey: boolean;
  ResourceTags: Record<string, string>;
  TagKeyPrefix: string;
  Driver: string;
  /** Passed to the driver as is; each driver validates its own parameters. */
  DriverParameters: Record<string, unknown>;
}

/** The part of `Containers` this daemon uses. Durations in ms, sizes in bytes. */
export interface ContainersConfig {
  /** PEM text of the SSH private key (a `file:///path` value is read at load time). */
  DispatchPrivateKey: string;
  StaleLockTimeout: number;
  ReserveExtraRAM: number;
  MaxDispatchAttempts: number;
  MaximumPriceFactor: number;
  PreemptiblePriceFactor: number;
  AlwaysUsePreemptibleInstances: boolean;
  RuntimeEngine: string;
  CrunchRunCommand: string;
  CrunchRunArgumentsList: string[];
  LocalKeepBlobBuffersPerVCPU: number;
  CloudVMs: CloudVMsConfig;
}

/**
 * `PostgreSQL`: the cluster's database, used for the dispatch lock only.
 * `Connection` holds libpq keywords, lower-cased, empty values dropped; an
 * empty map means no database is configured (the daemon then runs unlocked),
 * and any keyword means one is, with the rest defaulted as libpq does.
 */
export interface PostgreSQLConfig {
  Connection: Record<string, string>;
  ConnectionPool: number;
}

/** One cluster's compiled config. */
export interface Cluster {
  /** The key under `Clusters` (five characters, e.g. `zzzzz`). */
  ClusterID: string;
  ManagementToken: string;
  SystemRootToken: string;
  Services: {
    Controller: { ExternalURL: string };
    /**
     * The Arvados event feed (arvados-ws), e.g. `wss://ws.example.com/websocket`;
     * empty = none. When set, the daemon subscribes to it for container
     * events and dispatches on them between polls (`src/arvados/event-feed.ts`).
     */
    Websocket: { ExternalURL: string };
    /** The keys of `Services.DispatchCloud.InternalURLs`, but `SAMPLE` (no URL, and ignored with a warning). */
    DispatchCloud: {
      InternalURLs: string[];
      /**
       * `InternalURLs.<url>.ListenURL` for each InternalURL that sets one:
       * where to bind when it differs from the URL clients connect to (a
       * proxy in between). Kept beside the list, keyed by InternalURL.
       */
      ListenURLs: Record<string, string>;
    };
  };
  /**
   * `Certificate` and `Key` are file paths (`/path` or `file:///path`, read
   * when the daemon serves an https URL and again on SIGHUP and hourly) or,
   * as an extension, the PEM text itself. `Key` is a secret. A non-empty
   * `ACME.Server` means the certificates come from the autocert cache that
   * `arvados-server boot` keeps instead (http/autocert.ts); its value is
   * only read by boot.
   */
  TLS: { Insecure: boolean; Certificate: string; Key: string; ACME: { Server: string } };
  /**
   * The limits of the daemon's own HTTP server (the reference's request
   * limiter). The config is shared, so these are the controller's limits
   * too, and the controller client reads them as the reference's does:
   * `MaxConcurrentRequests` caps its requests in flight, `RequestTimeout`
   * sets its per-attempt limit (src/arvados/client.ts).
   */
  API: {
    MaxConcurrentRequests: number;
    MaxQueuedRequests: number;
    MaxGatewayTunnels: number;
    /** ms a management request may wait for its turn (0: no deadline); see src/http/request-limiter.ts. */
    RequestTimeout: number;
  };
  /** Format is `json` or `text` (logrus's formats, as the reference writes them). */
  SystemLogs: { LogLevel: string; Format: 'json' | 'text' };
  Containers: ContainersConfig;
  /** Keyed by `InstanceType.Name`, including `.preemptible` variants. */
  InstanceTypes: Record<string, InstanceType>;
  PostgreSQL: PostgreSQLConfig;
  /**
   * The cluster's section of the config file as parsed, every key kept
   * (SAMPLE entries too, as Arvados keeps a file's): crunch-run is given the whole cluster config,
   * not only what this daemon compiles. Holds secrets: never log it. The
   * loader makes it non-enumerable, so a spread copy of the cluster does not
   * carry it: copy a cluster with `copyCluster` (copy.ts). Absent for a
   * cluster built in code.
   */
  RawSection?: Readonly<Record<string, unknown>>;
}
