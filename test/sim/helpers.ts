import { loadConfigText } from '../../src/config/index.js';
import { defaultSettings } from '../../src/config/settings.js';
import type { Cluster } from '../../src/config/types.js';
import type { CloudLedger, VMLife } from '../../src/sim/cloud.js';
import type { SimResult } from '../../src/sim/result.js';

/** A small cluster: reference timings, boot 30-90 s, three types plus a GPU one. */
export function simConfig(driverParameters: Record<string, unknown> = {}, extra = ''): Cluster {
  return loadConfigText(simConfigText(driverParameters, extra)).cluster;
}

/** The YAML of `simConfig`. */
export function simConfigText(driverParameters: Record<string, unknown> = {}, extra = ''): string {
  const params = Object.entries({ MinBootTime: '30s', MaxBootTime: '90s', ...driverParameters })
    .map(([k, v]) => `          ${k}: ${JSON.stringify(v)}`)
    .join('\n');
  const text = `
Clusters:
  zzzzz:
    SystemRootToken: simTestRootTokenXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX
    Services:
      Controller:
        ExternalURL: http://127.0.0.1:1
    Containers:
      PreemptiblePriceFactor: 0.4
${extra}
      CloudVMs:
        Driver: lame
        DriverParameters:
${params}
        MaxInstances: 50
    InstanceTypes:
      small:  {VCPUs: 2, RAM: 8GiB,  IncludedScratch: 50GB,  Price: 0.10}
      medium: {VCPUs: 4, RAM: 16GiB, IncludedScratch: 100GB, Price: 0.20}
      large:  {VCPUs: 16, RAM: 64GiB, IncludedScratch: 400GB, Price: 0.80}
      gpu:
        VCPUs: 4
        RAM: 16GiB
        IncludedScratch: 100GB
        Price: 0.50
        GPU: {Stack: cuda, DriverVersion: "12.4", HardwareTarget: "7.5", DeviceCount: 1, VRAM: 16GiB}
`;
  return text;
}

/** Ten containers of various shapes, one of them a workflow runner with three children. */
export const TRACE = {
  name: 'engine-test',
  seed: 11,
  containers: [
    { id: 'a', at: 0, vcpus: 1, ram: '2GiB', runtime: '5m' },
    { id: 'b', at: '10s', vcpus: 2, ram: '4GiB', runtime: '3m', scratch: '20GiB' },
    { id: 'c', at: '20s', vcpus: 4, ram: '8GiB', runtime: '8m', priority: 500 },
    { id: 'd', at: '30s', vcpus: 1, ram: '1GiB', runtime: '2m', preemptible: true },
    { id: 'e', at: '40s', vcpus: 12, ram: '40GiB', runtime: '4m' },
    { id: 'f', at: '1m', vcpus: 2, ram: '4GiB', runtime: '1m', exitCode: 3 },
    { id: 'g', at: '1m', vcpus: 2, ram: '8GiB', runtime: '2m', gpus: 1, gpuVRAM: '8GiB' },
    {
      id: 'w',
      at: '2m',
      vcpus: 1,
      ram: '1GiB',
      runtime: '1m',
      supervisor: true,
      children: [
        { id: 'w1', at: '30s', vcpus: 2, ram: '4GiB', runtime: '4m' },
        { id: 'w2', at: '1m', vcpus: 2, ram: '4GiB', runtime: '6m' },
        { id: 'w3', at: '5m', vcpus: 1, ram: '2GiB', runtime: '1m' },
      ],
    },
  ],
};


/** The result of a run made by hand, for report tests: `over` on a finished run of nothing from 0 to 1 min, these VMs in its ledger. */
export function handMadeResult(vms: readonly VMLife[], over: Partial<SimResult> = {}): SimResult {
  const ledger = { vms: new Map(vms.map((v) => [v.id, v])), calls: {}, liveCount: 0 } as unknown as CloudLedger;
  return {
    workload: 'hand-made',
    seed: 1,
    startedAt: 0,
    endedAt: 60_000,
    finished: true,
    containers: [],
    ledger,
    readyAt: new Map(),
    timeline: [],
    restarts: 0,
    timersLeft: 0,
    timersFired: 0,
    controllerRequests: {},
    estimates: [],
    settings: defaultSettings(),
    costLedgers: [],
    billingRules: new Map(),
    notes: [],
    host: { wallMs: 0, cpuUserMs: 0, cpuSystemMs: 0, peakRssBytes: 0, peakHeapBytes: 0 },
    warmUp: { imagePulls: 0, imagePullMs: 0, coldInputs: 0, coldInputMs: 0 },
    ...over,
  };
}
