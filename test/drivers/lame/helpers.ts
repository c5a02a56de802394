/**
 * Shared fixtures for the lame driver's tests: a cluster config, instance
 * types, a driver context, and a bounded real-time poll.
 */
import { randomBytes } from 'node:crypto';
import type { DriverContext, InstanceTags } from '../../../src/cloud/types.js';
import { type Clock, systemClock } from '../../../src/clock/index.js';
import type { Cluster, InstanceType } from '../../../src/config/types.js';
import { silentLogger } from '../../../src/log.js';
import type { Instance } from '../../../src/cloud/types.js';
import { SshExecutor } from '../../../src/ssh/ssh-executor.js';
import { initCommandForSecret, withSudo } from '../../../src/arvados/crunch-run.js';
import { hostKeyVerifier } from '../../../src/worker/verify.js';
import { generateHostKey } from '../../../drivers/lame/sshd.js';

export { waitFor } from '../../cloud/conformance.js';

export const ROOT_TOKEN = 'lame-test-root-token-0123456789';

export function instanceType(name: string, providerType = name): InstanceType {
  return {
    Name: name,
    ProviderType: providerType,
    VCPUs: 2,
    RAM: 4 << 30,
    Scratch: 10 << 30,
    IncludedScratch: 10 << 30,
    AddedScratch: 0,
    Price: 0.1,
    Preemptible: false,
    GPU: { Stack: '', DriverVersion: '', HardwareTarget: '', DeviceCount: 0, VRAM: 0 },
  };
}

export const SMALL = instanceType('small', 'lame.small');
export const LARGE = instanceType('large', 'lame.large');

export function makeCluster(opts: { controllerURL?: string; crunchRunCommand?: string; bootProbe?: string } = {}): Cluster {
  return {
    ClusterID: 'zzzzz',
    ManagementToken: 'management-token',
    SystemRootToken: ROOT_TOKEN,
    Services: { Controller: { ExternalURL: opts.controllerURL ?? 'http://127.0.0.1:1' }, Websocket: { ExternalURL: '' }, DispatchCloud: { InternalURLs: [], ListenURLs: {} } },
    TLS: { Insecure: false, Certificate: '', Key: '', ACME: { Server: '' } },
    API: { MaxConcurrentRequests: 64, MaxQueuedRequests: 128, MaxGatewayTunnels: 1000, RequestTimeout: 300_000 },
    SystemLogs: { LogLevel: 'info', Format: 'json' },
    PostgreSQL: { Connection: {}, ConnectionPool: 32 },
    Containers: {
      DispatchPrivateKey: '',
      StaleLockTimeout: 60_000,
      ReserveExtraRAM: 550 << 20,
      MaxDispatchAttempts: 10,
      MaximumPriceFactor: 1.5,
      PreemptiblePriceFactor: 0,
      AlwaysUsePreemptibleInstances: false,
      RuntimeEngine: 'docker',
      CrunchRunCommand: opts.crunchRunCommand ?? 'crunch-run',
      CrunchRunArgumentsList: [],
      LocalKeepBlobBuffersPerVCPU: 1,
      CloudVMs: {
        Enable: true,
        SSHPort: '22',
        PollInterval: 10_000,
        BootProbeCommand: opts.bootProbe ?? 'systemctl is-system-running',
        ProbeInterval: 10_000,
        MaxProbesPerSecond: 10,
        TimeoutSignal: 5000,
        TimeoutStaleRunLock: 5000,
        TimeoutTERM: 120_000,
        MaxCloudOpsPerSecond: 10,
        MaxConcurrentInstanceCreateOps: 1,
        MaxInstances: 64,
        MaxRunningContainersPerInstance: 0,
        InitialQuotaEstimate: 0,
        SupervisorFraction: 0.5,
        SyncInterval: 60_000,
        TimeoutIdle: 60_000,
        TimeoutBooting: 600_000,
        TimeoutProbe: 600_000,
        TimeoutShutdown: 10_000,
        ImageID: 'lame-image',
        InstanceInitCommand: '',
        DeployRunnerBinary: '',
        DeployRunnerDirectory: '/tmp/arvados-crunch-run',
        DeployPublicKey: true,
        ResourceTags: {},
        TagKeyPrefix: 'Arvados',
        Driver: 'lame',
        DriverParameters: {},
      },
    },
    InstanceTypes: { small: SMALL, large: LARGE },
  };
}

/** A driver context with a fresh InstanceSetID, so each test gets its own lame cloud. */
export function makeContext(opts: { cluster?: Cluster; clock?: Clock; instanceSetId?: string } = {}): DriverContext {
  return {
    instanceSetId: opts.instanceSetId ?? `lame-test-${randomBytes(4).toString('hex')}`,
    cluster: opts.cluster ?? makeCluster(),
    logger: silentLogger(),
    clock: opts.clock ?? systemClock,
  };
}

/** The dispatcher's SSH key pair (OpenSSH format). */
export const DISPATCH_KEY = generateHostKey();

export function randomSecret(): string {
  return randomBytes(20).toString('hex');
}

/** Tags and init command as the pool gives them to create. */
export function createArgs(instanceSetId: string, typeName = 'small'): { tags: InstanceTags; init: string; secret: string } {
  const secret = randomSecret();
  return {
    secret,
    tags: {
      ArvadosInstanceSetID: instanceSetId,
      ArvadosInstanceType: typeName,
      ArvadosIdleBehavior: 'run',
      ArvadosInstanceSecret: secret,
    },
    init: initCommandForSecret(secret),
  };
}

/** An SSH executor for a lame instance, as the dispatcher makes one: DISPATCH_KEY, host key checked against the instance secret. */
export function dispatcherExecutor(instance: Instance): SshExecutor {
  return new SshExecutor({
    target: instance.address,
    username: instance.remoteUser,
    privateKey: DISPATCH_KEY.private,
    verifyHostKey: hostKeyVerifier(instance, 'ArvadosInstanceSecret', (cmd) => withSudo(cmd, instance.remoteUser)),
    connectTimeoutMs: 5000,
    commandTimeoutMs: 5000,
  });
}
