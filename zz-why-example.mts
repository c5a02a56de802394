// Throwaway: produce a real `containers why` example for the README.
import { Writable } from 'node:stream';
import { systemClock } from './src/clock/index.js';
import { loadConfigFile } from './src/config/index.js';
import { againstController, EXAMPLE_CONFIG } from './src/demo/run.js';
import { createDispatcher } from './src/dispatcher.js';
import { startManagementServer } from './src/http/server.js';
import { createLogger } from './src/log.js';
import { TestController } from './src/testcontroller/index.js';
import { whyContainer } from './src/admin/commands.js';

const { cluster: loaded } = loadConfigFile(EXAMPLE_CONFIG, {});
const log = createLogger({ level: 'error', stream: new Writable({ write: (_c, _e, cb) => cb() }) });
const ctl = new TestController({ clusterId: loaded.ClusterID, rootToken: loaded.SystemRootToken });
await ctl.start();
const base = againstController(loaded, ctl.url, { MinBootTime: 200, MaxBootTime: 400, ErrorRateCreate: 0, CrunchRunCrashRate: 0, BrokenRate: 0, NeverBootRate: 0, QuotaMaxInstances: 0, CapacityErrorTypes: ['medium'], Seed: 3, CloudName: `why-${process.pid}` });
const cluster = { ...base, Containers: { ...base.Containers, MaximumPriceFactor: 1, CloudVMs: { ...base.Containers.CloudVMs, MaxInstances: 3 } } };
const d = await createDispatcher(cluster, { logger: log, clock: systemClock });
const server = await startManagementServer(d, { listen: '127.0.0.1:0' });
d.start();
for (let i = 0; i < 3; i++) ctl.addContainer({ command: ['sleep', '120'], priority: 10, runtime_constraints: { vcpus: 1, ram: 1 << 30 } });
const big = ctl.addContainer({ command: ['sleep', '60'], priority: 5, runtime_constraints: { vcpus: 4, ram: 8 << 30 } });
await new Promise((r) => setTimeout(r, 8000));
const out = new Writable({ write: (c, _e, cb) => { process.stdout.write(c); cb(); } });
await whyContainer({ config: '/x', stdout: out, target: { baseURL: server.url, token: cluster.ManagementToken, insecure: false } }, big.uuid);
process.exit(0);
