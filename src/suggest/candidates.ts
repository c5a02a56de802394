/**
 * The changes worth trying for one waiting container, from its blocker
 * (`src/scheduler/why.ts`): each is then run forward in the simulator
 * (`suggester.ts`), which decides whether it helps and by how much.
 *
 * | blocker                         | changes tried                                                        |
 * |---------------------------------|----------------------------------------------------------------------|
 * | quota, bucket MaxInstances      | MaxInstances + the VMs the containers ahead and it need, and half that |
 * | price_cap (any waiting reason)  | MaximumPriceFactor just high enough for the cheapest left-out type    |
 * | types_at_capacity               | the container as preemptible, when a preemptible type would fit it    |
 * | anything else                   | none: the config cannot change it (the reason says why)               |
 */
import type { Container } from '../arvados/types.js';
import type { Cluster, InstanceType } from '../config/types.js';
import { copyCluster } from '../config/copy.js';
import { rejectReason } from '../queue/instance-types.js';
import type { InstanceResources } from '../scheduler/interfaces.js';
import type { Blocker } from '../scheduler/blocker.js';
import type { SimContainer } from '../sim/workload.js';

/** At most this many candidates per container. */
export const MAX_CANDIDATES = 3;

/** A change the simulator can apply: to the cluster config, or to the container's own request (preemptible). */
export type Change =
  | { kind: 'MaxInstances'; value: number; delta: number }
  | { kind: 'MaximumPriceFactor'; value: number; type: string }
  | { kind: 'preemptible' };

/** A change and how it reads ("MaxInstances 80 (+16)"). */
export interface Candidate {
  change: Change;
  text: string;
}

/** The candidates, or none and why. */
export interface Candidates {
  candidates: Candidate[];
  /** Set when there is no candidate: why no config change would help. */
  none?: string;
}

/** What the candidates are chosen from. */
export interface CandidateInput {
  blocker: Blocker;
  cluster: Cluster;
  container: Container;
  /** Its eligible types, cheapest first. */
  instanceTypes: InstanceType[];
  instanceResources: InstanceResources;
}

/** The changes worth simulating for the container behind `input.blocker` (the table above), at most MAX_CANDIDATES. */
export function candidatesFor(input: CandidateInput): Candidates {
  const { blocker, cluster } = input;
  const out: Candidate[] = [];
  if (blocker.reason === 'quota' && blocker.bucket === 'MaxInstances') {
    const max = cluster.Containers.CloudVMs.MaxInstances;
    const need = vmsNeeded(blocker, input.instanceTypes);
    for (const k of [need, Math.ceil(need / 2)]) {
      if (k < 1 || out.some((c) => c.change.kind === 'MaxInstances' && c.change.delta === k)) continue;
      out.push({ change: { kind: 'MaxInstances', value: max + k, delta: k }, text: `MaxInstances ${max + k} (+${k})` });
    }
  }
  const cheapestLeftOut = blocker.price_cap?.types[0];
  const cheapest = input.instanceTypes[0];
  if (cheapestLeftOut && cheapest && cheapest.Price > 0) {
    // Rounded up to a hundredth, so the type is within the factor and the figure reads well.
    const value = Math.ceil((cheapestLeftOut.price / cheapest.Price) * 100) / 100;
    out.push({ change: { kind: 'MaximumPriceFactor', value, type: cheapestLeftOut.name }, text: `MaximumPriceFactor ${value}` });
  }
  if (blocker.reason === 'types_at_capacity' && input.container.scheduling_parameters.preemptible !== true && preemptibleFits(input)) {
    out.push({ change: { kind: 'preemptible' }, text: 'running it as preemptible' });
  }
  if (out.length > 0) return { candidates: out.slice(0, MAX_CANDIDATES) };
  return { candidates: [], none: noneReason(blocker) };
}

/** Applies `change` to a copy of the simulated cluster and workload; `targetId` names the container it is for. */
export function applyChange(change: Change, cluster: Cluster, containers: SimContainer[], targetId: string): { cluster: Cluster; containers: SimContainer[] } {
  switch (change.kind) {
    case 'MaxInstances':
      return {
        cluster: copyCluster(cluster, { Containers: { ...cluster.Containers, CloudVMs: { ...cluster.Containers.CloudVMs, MaxInstances: change.value } } }),
        containers,
      };
    case 'MaximumPriceFactor':
      return { cluster: copyCluster(cluster, { Containers: { ...cluster.Containers, MaximumPriceFactor: change.value } }), containers };
    case 'preemptible':
      return { cluster, containers: containers.map((c) => (c.id === targetId ? { ...c, preemptible: true } : c)) };
  }
}

/**
 * The VMs the containers ahead and this one would need: one each, unless
 * their vCPUs pack onto fewer of the largest eligible type.
 */
function vmsNeeded(blocker: Blocker, types: InstanceType[]): number {
  const ahead = blocker.ahead;
  if (!ahead || ahead.containers === 0) return 1;
  const largest = Math.max(1, ...types.map((t) => t.VCPUs));
  return Math.max(1, Math.min(ahead.containers, Math.ceil(ahead.vcpus / largest))) + 1;
}

function preemptibleFits(input: CandidateInput): boolean {
  // Asked as if it were preemptible already: a preemptible type is only offered to a preemptible container.
  const asPreemptible = { ...input.container, scheduling_parameters: { ...input.container.scheduling_parameters, preemptible: true } };
  return Object.values(input.cluster.InstanceTypes).some((t) => t.Preemptible && rejectReason(t, input.instanceResources, asPreemptible) === undefined);
}

function noneReason(b: Blocker): string {
  switch (b.reason) {
    case 'concurrency_limit':
      return 'the concurrency limit adapts to the controller (its 503 answers); no dispatcher setting raises it';
    case 'quota':
      return 'the cloud account quota binds, not MaxInstances: raise the quota with the provider';
    case 'supervisor_cap':
      return 'the supervisor cap (SupervisorFraction) is taken by workflow runners ahead';
    case 'types_at_capacity':
      return 'every type it may use is at capacity and no cheaper change lets it use another';
    default:
      return `nothing in the config holds it (${b.reason})`;
  }
}
