/**
 * A client for the lame cloud server's test endpoints, for end-to-end tests
 * that inject faults into VMs living in another process: list the VMs with
 * their state, break one, crash a crunch-run, fail the next create, change a
 * fault knob. Every call fails with the server's message when it refuses.
 */
import type { CallCounts } from './cloud.js';
import { API_PREFIX, errorFromWire, isWireError, type WireError, type WireVM } from './protocol.js';

export class LameCloudAdmin {
  private readonly base: string;

  /** @param url the lame cloud server's `http://HOST:PORT` (its CloudURL). */
  constructor(url: string) {
    this.base = url.replace(/\/+$/, '');
  }

  /** Every VM still listed (terminated ones too until DestroyDelay passes), with its processes. */
  async vms(): Promise<WireVM[]> {
    return ((await this.call('GET', '/vms')) as { vms: WireVM[] }).vms;
  }

  /** One VM; rejects when it is not listed. */
  async vm(id: string): Promise<WireVM> {
    return ((await this.call('GET', `/vms/${encodeURIComponent(id)}`)) as { vm: WireVM }).vm;
  }

  /** From now on `crunch-run --list` on the VM prints `broken`. */
  async breakVM(id: string): Promise<WireVM> {
    return ((await this.call('POST', `/vms/${encodeURIComponent(id)}/break`)) as { vm: WireVM }).vm;
  }

  /** The VM's boot probe succeeds from now on. */
  async setBooted(id: string): Promise<WireVM> {
    return ((await this.call('POST', `/vms/${encodeURIComponent(id)}/boot`)) as { vm: WireVM }).vm;
  }

  /** Cuts the VM's SSH connections (a network blip); it keeps accepting new ones. */
  async dropConnections(id: string): Promise<WireVM> {
    return ((await this.call('POST', `/vms/${encodeURIComponent(id)}/drop-connections`)) as { vm: WireVM }).vm;
  }

  /**
   * Kills the container's crunch-run on the VM without letting it update the
   * container; its lock stays held `staleLockMs` (default StaleLockTime).
   * Rejects when no live crunch-run has that UUID there.
   */
  async crashCrunchRun(id: string, uuid: string, opts: { staleLockMs?: number } = {}): Promise<WireVM> {
    return ((await this.call('POST', `/vms/${encodeURIComponent(id)}/crash-crunch-run`, { uuid, ...opts })) as { vm: WireVM }).vm;
  }

  /** The next create fails with this error (one-shot; several queue up). */
  async failNextCreate(error: WireError): Promise<void> {
    await this.call('POST', '/fail-next-create', { error });
  }

  /** Changes DriverParameters (fault knobs) at run time; returns those now in force. CloudURL, Transport, Seed, CloudName cannot change. */
  async configure(parameters: Record<string, unknown>): Promise<Record<string, unknown>> {
    return ((await this.call('POST', '/configure', { parameters })) as { parameters: Record<string, unknown> }).parameters;
  }

  /** How many times each cloud API was called. */
  async callCounts(): Promise<CallCounts> {
    return ((await this.call('GET', '/calls')) as { calls: CallCounts }).calls;
  }

  /** Resolves when the server answers. */
  async ping(): Promise<{ cloud: string; vms: number }> {
    return (await this.call('GET', '/ping')) as { cloud: string; vms: number };
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.base}${API_PREFIX}${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      throw new Error(`${method} ${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
    if (res.ok) return parsed;
    const wire = (parsed as { error?: unknown } | undefined)?.error;
    if (isWireError(wire)) throw errorFromWire(wire);
    throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
  }
}
