/**
 * The shape of the reference's cluster config struct (Go `arvados.Cluster`)
 * as its `encoding/json` writes it: every field, in struct order, with the
 * kind of value it holds. Fields the struct keeps out of JSON (`ClusterID`,
 * `InstanceType.Name`, `InstanceType.Scratch`) are not listed; the one
 * `omitempty` field (`ServiceInstance.Rendezvous`) says so.
 *
 * crunch-run receives the whole cluster config in this form on stdin and
 * hands it to the local keepstore it starts for a container; the encoder in
 * `encode.ts` walks this table. Checked against the reference at 913e363.
 */

/**
 * What a field holds, and so how Go decodes and writes it:
 * - `string`, `bool`, `int`, `float`: the plain JSON value;
 * - `duration`: written as Arvados's short duration text ("5m", "1h", "0s");
 * - `bytesize`: accepts "10GiB" or a number, written as an integer;
 * - `bytesizeOrPercent`: like bytesize, or "10%" (written back as "10%");
 * - `url`: a URL, written as Go's `url.URL` prints it (a bare host gets a "/" path);
 * - `tlsVersion`: "", "1.0" ... "1.3";
 * - `set`: Arvados's StringSet, `{"key": {}}` (a list is accepted; an empty one is null);
 * - `stringList`, `stringMap`, `boolMap`: `[]string`, `map[string]string`, `map[string]bool`;
 * - `rawJSON`: `json.RawMessage`, any JSON value passed through;
 * - `any`: `interface{}`;
 * - a struct or a map of another kind (optionally keyed by URL).
 */
export type GoKind =
  | 'string'
  | 'bool'
  | 'int'
  | 'float'
  | 'duration'
  | 'bytesize'
  | 'bytesizeOrPercent'
  | 'url'
  | 'tlsVersion'
  | 'set'
  | 'stringList'
  | 'stringMap'
  | 'boolMap'
  | 'rawJSON'
  | 'any'
  | GoStruct
  | GoMap;

export interface GoStruct {
  readonly struct: Readonly<Record<string, GoField>>;
}

export interface GoMap {
  readonly map: GoKind;
  /** Keys are URLs, normalised and sorted as their text. */
  readonly urlKeys?: true;
}

/** A field: its kind, or its kind with `omitempty` (left out when empty). */
export type GoField = GoKind | { readonly kind: GoKind; readonly omitempty: true };

const struct = (fields: Record<string, GoField>): GoStruct => ({ struct: fields });
const mapOf = (kind: GoKind): GoMap => ({ map: kind });
const urlMapOf = (kind: GoKind): GoMap => ({ map: kind, urlKeys: true });

/** `struct{}`: written as `{}`. */
const EMPTY = struct({});

const SERVICE_FIELDS: Record<string, GoField> = {
  InternalURLs: urlMapOf(struct({ ListenURL: 'url', Rendezvous: { kind: 'string', omitempty: true } })),
  ExternalURL: 'url',
};
const SERVICE = struct(SERVICE_FIELDS);
/** The embedded Service's fields come first, as Go writes an embedded struct. */
const SERVICE_WITH_PORT_RANGE = struct({ ...SERVICE_FIELDS, ExternalPortMin: 'int', ExternalPortMax: 'int' });

const UPLOAD_DOWNLOAD = struct({ Upload: 'bool', Download: 'bool' });
const UPLOAD_DOWNLOAD_ROLES = struct({ User: UPLOAD_DOWNLOAD, Admin: UPLOAD_DOWNLOAD });

/** `arvados.InstanceType`: Name and Scratch are not in its JSON. */
export const INSTANCE_TYPE = struct({
  ProviderType: 'string',
  VCPUs: 'int',
  RAM: 'bytesize',
  IncludedScratch: 'bytesize',
  AddedScratch: 'bytesize',
  Price: 'float',
  Preemptible: 'bool',
  GPU: struct({ Stack: 'string', DriverVersion: 'string', HardwareTarget: 'string', DeviceCount: 'int', VRAM: 'bytesize' }),
});

const CLOUD_VMS = struct({
  Enable: 'bool',
  BootProbeCommand: 'string',
  InstanceInitCommand: 'string',
  DeployRunnerBinary: 'string',
  DeployRunnerDirectory: 'string',
  DeployPublicKey: 'bool',
  ImageID: 'string',
  MaxCloudOpsPerSecond: 'int',
  MaxProbesPerSecond: 'int',
  MaxConcurrentInstanceCreateOps: 'int',
  MaxRunningContainersPerInstance: 'int',
  MaxInstances: 'int',
  InitialQuotaEstimate: 'int',
  SupervisorFraction: 'float',
  PollInterval: 'duration',
  ProbeInterval: 'duration',
  SSHPort: 'string',
  SyncInterval: 'duration',
  TimeoutBooting: 'duration',
  TimeoutIdle: 'duration',
  TimeoutProbe: 'duration',
  TimeoutShutdown: 'duration',
  TimeoutSignal: 'duration',
  TimeoutStaleRunLock: 'duration',
  TimeoutTERM: 'duration',
  ResourceTags: 'stringMap',
  TagKeyPrefix: 'string',
  Driver: 'string',
  DriverParameters: 'rawJSON',
});

const CONTAINERS = struct({
  CloudVMs: CLOUD_VMS,
  CrunchRunCommand: 'string',
  CrunchRunArgumentsList: 'stringList',
  DefaultKeepCacheRAM: 'bytesize',
  DispatchPrivateKey: 'string',
  LogReuseDecisions: 'bool',
  MaxDispatchAttempts: 'int',
  MaxRetryAttempts: 'int',
  MinRetryPeriod: 'duration',
  ReserveExtraRAM: 'bytesize',
  StaleLockTimeout: 'duration',
  SupportedDockerImageFormats: 'set',
  AlwaysUsePreemptibleInstances: 'bool',
  PreemptiblePriceFactor: 'float',
  MaximumPriceFactor: 'float',
  RuntimeEngine: 'string',
  LocalKeepBlobBuffersPerVCPU: 'int',
  LocalKeepLogsToContainerLog: 'string',
  Logging: struct({ LogUpdatePeriod: 'duration', LogUpdateSize: 'bytesize' }),
  ShellAccess: struct({ Admin: 'bool', User: 'bool' }),
  SLURM: struct({
    PrioritySpread: 'int',
    SbatchArgumentsList: 'stringList',
    SbatchGPUArgumentsList: 'stringList',
    SbatchEnvironmentVariables: 'stringMap',
  }),
  LSF: struct({
    BsubSudoUser: 'string',
    BsubArgumentsList: 'stringList',
    BsubGPUArguments: 'stringList',
    MaxRunTimeOverhead: 'duration',
    MaxRunTimeDefault: 'duration',
  }),
});

const API = struct({
  AsyncPermissionsUpdateInterval: 'duration',
  DisabledAPIs: 'set',
  MaxIndexDatabaseRead: 'int',
  MaxItemsPerResponse: 'int',
  MaxConcurrentRailsRequests: 'int',
  MaxConcurrentRequests: 'int',
  MaxQueuedRequests: 'int',
  MaxGatewayTunnels: 'int',
  MaxQueueTimeForLockRequests: 'duration',
  MaxKeepBlobBuffers: 'int',
  MaxRequestAmplification: 'int',
  MaxRequestSize: 'int',
  MaxTokenLifetime: 'duration',
  RequestTimeout: 'duration',
  SendTimeout: 'duration',
  WebsocketClientEventQueue: 'int',
  WebsocketServerEventQueue: 'int',
  KeepServiceRequestTimeout: 'duration',
  VocabularyPath: 'string',
  FreezeProjectRequiresDescription: 'bool',
  FreezeProjectRequiresProperties: 'set',
  UnfreezeProjectRequiresAdmin: 'bool',
  LockBeforeUpdate: 'bool',
});

const COLLECTIONS = struct({
  BlobSigning: 'bool',
  BlobSigningKey: 'string',
  BlobSigningTTL: 'duration',
  BlobTrash: 'bool',
  BlobTrashLifetime: 'duration',
  BlobTrashCheckInterval: 'duration',
  BlobTrashConcurrency: 'int',
  BlobDeleteConcurrency: 'int',
  BlobReplicateConcurrency: 'int',
  CollectionVersioning: 'bool',
  DefaultTrashLifetime: 'duration',
  DefaultReplication: 'int',
  ManagedProperties: mapOf(struct({ Value: 'any', Function: 'string', Protected: 'bool' })),
  PreserveVersionIfIdle: 'duration',
  TrashSweepInterval: 'duration',
  TrustAllContent: 'bool',
  ForwardSlashNameSubstitution: 'string',
  S3FolderObjects: 'bool',
  BlobMissingReport: 'string',
  BalancePeriod: 'duration',
  BalanceCollectionBatch: 'int',
  BalanceCollectionBuffers: 'int',
  BalanceTimeout: 'duration',
  BalanceUpdateLimit: 'int',
  BalancePullLimit: 'int',
  BalanceTrashLimit: 'int',
  WebDAVCache: struct({ TTL: 'duration', DiskCacheSize: 'bytesizeOrPercent', MaxCollectionBytes: 'bytesize', MaxSessions: 'int' }),
  KeepproxyPermission: UPLOAD_DOWNLOAD_ROLES,
  WebDAVPermission: UPLOAD_DOWNLOAD_ROLES,
  WebDAVLogEvents: 'bool',
  WebDAVLogDownloadInterval: 'duration',
  WebDAVOutputBuffer: 'bytesize',
});

const LOGIN = struct({
  LDAP: struct({
    Enable: 'bool',
    URL: 'url',
    StartTLS: 'bool',
    InsecureTLS: 'bool',
    MinTLSVersion: 'tlsVersion',
    StripDomain: 'string',
    AppendDomain: 'string',
    SearchAttribute: 'string',
    SearchBindUser: 'string',
    SearchBindPassword: 'string',
    SearchBase: 'string',
    SearchFilters: 'string',
    EmailAttribute: 'string',
    UsernameAttribute: 'string',
  }),
  Google: struct({
    Enable: 'bool',
    ClientID: 'string',
    ClientSecret: 'string',
    AlternateEmailAddresses: 'bool',
    AuthenticationRequestParameters: 'stringMap',
  }),
  OpenIDConnect: struct({
    Enable: 'bool',
    Issuer: 'string',
    ClientID: 'string',
    ClientSecret: 'string',
    EmailClaim: 'string',
    EmailVerifiedClaim: 'string',
    UsernameClaim: 'string',
    AcceptAccessToken: 'bool',
    AcceptAccessTokenScope: 'string',
    AuthenticationRequestParameters: 'stringMap',
  }),
  PAM: struct({ Enable: 'bool', Service: 'string', DefaultEmailDomain: 'string' }),
  Test: struct({ Enable: 'bool', Users: mapOf(struct({ Email: 'string', Password: 'string' })) }),
  LoginCluster: 'string',
  RemoteTokenRefresh: 'duration',
  TokenLifetime: 'duration',
  TrustedClients: urlMapOf(EMPTY),
  TrustPrivateNetworks: 'bool',
  IssueTrustedTokens: 'bool',
});

const USERS = struct({
  ActivatedUsersAreVisibleToOthers: 'bool',
  AnonymousUserToken: 'string',
  AdminNotifierEmailFrom: 'string',
  AutoAdminFirstUser: 'bool',
  AutoAdminUserWithEmail: 'string',
  AutoSetupNewUsers: 'bool',
  AutoSetupNewUsersWithVmUUID: 'string',
  AutoSetupUsernameBlacklist: 'set',
  EmailSubjectPrefix: 'string',
  NewInactiveUserNotificationRecipients: 'set',
  NewUserNotificationRecipients: 'set',
  NewUsersAreActive: 'bool',
  SendUserSetupNotificationEmail: 'bool',
  SupportEmailAddress: 'string',
  UserNotifierEmailFrom: 'string',
  UserNotifierEmailBcc: 'set',
  UserProfileNotificationAddress: 'string',
  PreferDomainForUsername: 'string',
  UserSetupMailText: 'string',
  RoleGroupsVisibleToAll: 'bool',
  CanCreateRoleGroups: 'bool',
  ActivityLoggingPeriod: 'duration',
  SyncIgnoredGroups: 'stringList',
  SyncRequiredGroups: 'stringList',
  SyncUserAccounts: 'bool',
  SyncUserAPITokens: 'bool',
  SyncUserGroups: 'bool',
  SyncUserSSHKeys: 'bool',
});

const VOLUME = struct({
  AccessViaHosts: urlMapOf(struct({ ReadOnly: 'bool' })),
  ReadOnly: 'bool',
  AllowTrashWhenReadOnly: 'bool',
  Replication: 'int',
  StorageClasses: 'boolMap',
  Driver: 'string',
  DriverParameters: 'rawJSON',
});

const WORKBENCH = struct({
  ActivationContactLink: 'string',
  ArvadosDocsite: 'string',
  ArvadosPublicDataDocURL: 'string',
  DisableSharingURLsUI: 'bool',
  FileViewersConfigURL: 'string',
  ShowUserAgreementInline: 'bool',
  SiteName: 'string',
  Theme: 'string',
  UserProfileFormFields: mapOf(
    struct({
      Type: 'string',
      FormFieldTitle: 'string',
      FormFieldDescription: 'string',
      Required: 'bool',
      Position: 'int',
      Options: mapOf(EMPTY),
    }),
  ),
  UserProfileFormMessage: 'string',
  WelcomePageHTML: 'string',
  InactivePageHTML: 'string',
  SSHHelpPageHTML: 'string',
  SSHHelpHostSuffix: 'string',
  IdleTimeout: 'duration',
  BannerUUID: 'string',
});

/** `arvados.Cluster`. */
export const CLUSTER = struct({
  ManagementToken: 'string',
  SystemRootToken: 'string',
  Services: struct({
    Composer: SERVICE,
    ContainerWebServices: SERVICE_WITH_PORT_RANGE,
    Controller: SERVICE,
    DispatchCloud: SERVICE,
    DispatchLSF: SERVICE,
    DispatchSLURM: SERVICE,
    Health: SERVICE,
    Keepbalance: SERVICE,
    Keepproxy: SERVICE,
    Keepstore: SERVICE,
    RailsAPI: SERVICE,
    WebDAVDownload: SERVICE,
    WebDAV: SERVICE,
    WebShell: SERVICE,
    Websocket: SERVICE,
    Workbench1: SERVICE,
    Workbench2: SERVICE,
  }),
  InstanceTypes: mapOf(INSTANCE_TYPE),
  Containers: CONTAINERS,
  RemoteClusters: mapOf(struct({ Host: 'string', Proxy: 'bool', Scheme: 'string', Insecure: 'bool', ActivateUsers: 'bool' })),
  PostgreSQL: struct({ Connection: 'stringMap', ConnectionPool: 'int' }),
  API,
  AuditLogs: struct({ MaxAge: 'duration', MaxDeleteBatch: 'int', UnloggedAttributes: 'set' }),
  Collections: COLLECTIONS,
  Login: LOGIN,
  SystemLogs: struct({ LogLevel: 'string', Format: 'string', MaxRequestLogParamsSize: 'int', RequestQueueDumpDirectory: 'string' }),
  TLS: struct({ Certificate: 'string', Key: 'string', Insecure: 'bool', ACME: struct({ Server: 'string' }) }),
  Users: USERS,
  StorageClasses: mapOf(struct({ Default: 'bool', Priority: 'int' })),
  Volumes: mapOf(VOLUME),
  Workbench: WORKBENCH,
});
