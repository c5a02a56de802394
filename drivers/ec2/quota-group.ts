/**
 * Which EC2 vCPU quota an instance type counts against (its "quota group"),
 * as the reference driver decides it. AWS sets vCPU limits per family
 * group (all of a, c, d, h, i, m, r, t, z share "standard"; vt shares g's;
 * p5 has its own), and separately for spot and on-demand. A
 * VcpuLimitExceeded for one type means every type of its group will fail
 * too, while types of other groups may still work.
 */
import type { InstanceType } from '../../src/config/types.js';

const LOWER_CASE_LETTER = /^\p{Ll}$/u;

/**
 * The quota group of `type`. The fallback is the type's leading lower-case
 * letters (`trn1.2xlarge` -> `trn`, `m5.large` -> `m`); a prefix listed in
 * `groups` (InstanceTypeQuotaGroups, keys lower-case) replaces it, the
 * longest listed prefix winning. Only prefixes at least as long as those
 * leading letters are looked up, so `trn1` is never taken for a `t` type.
 * Preemptible (spot) types get `-spot` appended: AWS counts them apart.
 */
export function quotaGroupFor(type: Pick<InstanceType, 'ProviderType' | 'Preemptible'>, groups: Readonly<Record<string, string>>): string {
  const name = type.ProviderType.toLowerCase();
  let group = '';
  let i = 0;
  for (const ch of name) {
    const prefix = name.slice(0, i);
    // The letters end at the first character that is not a lower-case
    // letter (a name with none of those has no group of its own).
    if (group === '' && !LOWER_CASE_LETTER.test(ch)) group = prefix;
    if (group !== '' && Object.hasOwn(groups, prefix) && groups[prefix] !== '') group = groups[prefix];
    i += ch.length;
  }
  return type.Preemptible ? `${group}-spot` : group;
}
