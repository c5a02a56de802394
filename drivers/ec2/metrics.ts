/**
 * The ec2 driver's own Prometheus metrics, with the reference driver's
 * names, types, labels and help texts, on the dispatcher's registry (when it
 * gives one: a driver built outside a dispatcher reports nowhere):
 *
 * - `arvados_dispatchcloud_ec2_instances{subnet_id}` (gauge): our instances
 *   per subnet as of the last listing; `""` counts those without a subnet.
 * - `arvados_dispatchcloud_ec2_instance_starts_total{subnet_id,success}`
 *   (counter): RunInstances calls per subnet, `success` `"1"` or `"0"`.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

const PREFIX = 'arvados_dispatchcloud_';

export class Ec2Metrics {
  private readonly instances: Gauge<'subnet_id'>;
  private readonly starts: Counter<'subnet_id' | 'success'>;
  /** Every subnet the gauge has reported, so one that empties goes back to 0. */
  private readonly reported = new Set<string>();

  constructor(
    registry: Registry | undefined,
    private readonly subnets: readonly string[],
  ) {
    const registers = registry ? [registry] : [];
    this.instances = new Gauge({ name: `${PREFIX}ec2_instances`, help: 'Number of instances running', labelNames: ['subnet_id'], registers });
    this.starts = new Counter({
      name: `${PREFIX}ec2_instance_starts_total`,
      help: 'Number of attempts to start a new instance',
      labelNames: ['subnet_id', 'success'],
      registers,
    });
    // Every series a create can touch exists from the start, as in the
    // reference: a success-ratio query must not wait for a subnet's first failure.
    for (const subnet of subnets.length > 0 ? subnets : ['']) {
      for (const success of ['0', '1']) this.starts.inc({ subnet_id: subnet, success }, 0);
    }
  }

  /** One RunInstances call in `subnet` ('' when no subnet is configured) ended. */
  started(subnet: string, ok: boolean): void {
    this.starts.inc({ subnet_id: subnet, success: ok ? '1' : '0' });
  }

  /** A listing of our instances: their subnets ('' for none). */
  listed(subnetIds: Iterable<string>): void {
    const counts = new Map<string, number>([['', 0]]);
    for (const s of [...this.subnets, ...this.reported]) counts.set(s, 0);
    for (const s of subnetIds) counts.set(s, (counts.get(s) ?? 0) + 1);
    for (const [subnet, n] of counts) {
      this.instances.set({ subnet_id: subnet }, n);
      this.reported.add(subnet);
    }
  }
}
