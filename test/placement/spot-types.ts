/** A cluster of three 2-VCPU types with spot variants at 40 %, for the tests of the spot rules (on-demand types, reclaims). */
import { loadConfigText } from '../../src/config/index.js';
import type { Cluster } from '../../src/config/types.js';

export function spotTypesCluster(): Cluster {
  return loadConfigText(`Clusters:
  zzzzz:
    Containers:
      MaximumPriceFactor: 1.5
      PreemptiblePriceFactor: 0.4
    InstanceTypes:
      c5.large: {VCPUs: 2, RAM: 4GiB, IncludedScratch: 32GB, Price: 0.085}
      m5.large: {VCPUs: 2, RAM: 8GiB, IncludedScratch: 32GB, Price: 0.096}
      r5.large: {VCPUs: 2, RAM: 16GiB, IncludedScratch: 32GB, Price: 0.126}
`).cluster;
}
