/**
 * The reference's request limiter (sdk/go/httpserver/request_limiter.go, as
 * its service command sets it up): at most `API.MaxConcurrentRequests`
 * requests are handled at once (0: no limit); more wait in a queue, higher
 * priority first (a request with an Origin header, i.e. from a browser, is
 * "high", others "normal"), then first come; beyond `API.MaxQueuedRequests`
 * waiting, the lowest-priority, latest one gets 503 at once, and one still
 * waiting when `API.RequestTimeout` has passed gets 503 then (the reference
 * cancels each request's context at that deadline, which a request still
 * waiting for its turn notices). Container
 * gateway tunnel and SSH paths have a queue of their own
 * (`API.MaxGatewayTunnels`, no waiting).
 *
 * Its metrics (`arvados_concurrent_requests{queue}`,
 * `arvados_max_concurrent_requests{queue}`, `arvados_max_queued_requests{queue}`,
 * `arvados_queued_requests{queue,priority}`,
 * `arvados_queue_delay_seconds{queue,priority}`,
 * `arvados_queue_timeout_seconds{queue,priority}`) appear, as there, with the
 * first request that goes through it, and cover the queues used so far.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Gauge, type Registry } from 'prom-client';
import { REFERENCE_SUMMARY_OPTS, WindowedSummary } from './windowed-summary.js';
import type { Clock, Timer } from '../clock/index.js';
import { type Next, setResponseLogFields } from './instrument.js';


/** POST paths that go in the "tunnel" queue. */
const TUNNEL_PATH = /^\/arvados\/v1\/(?:containers|connect)\/[^/]*\/(?:gateway_tunnel|ssh)$/;

export interface QueueLimits {
  maxConcurrent: number;
  maxQueue: number;
}

interface Waiting {
  queued: number;
  priority: number;
  /** Called with true to run now, false to give up (503, or the client left). */
  ready: (run: boolean) => void;
}

class RequestQueue {
  handling = 0;
  readonly waiting: Waiting[] = [];

  constructor(
    readonly label: string,
    readonly limits: QueueLimits,
  ) {}

  hasRoom(): boolean {
    return this.limits.maxConcurrent === 0 || this.handling < this.limits.maxConcurrent;
  }

  /** Starts as many waiting requests as there is room for, best first. */
  runQueue(): void {
    while (this.waiting.length > 0 && this.hasRoom()) {
      this.handling++;
      this.waiting.shift()!.ready(true);
    }
  }

  /** Queues `w` in order; if the queue is then too long, its worst entry is refused. */
  add(w: Waiting): void {
    const i = this.waiting.findIndex((x) => x.priority < w.priority);
    this.waiting.splice(i < 0 ? this.waiting.length : i, 0, w);
    if (this.waiting.length > this.limits.maxQueue) this.waiting.pop()!.ready(false);
  }

  remove(w: Waiting): boolean {
    const i = this.waiting.indexOf(w);
    if (i < 0) return false;
    this.waiting.splice(i, 1);
    return true;
  }
}

function priorityName(p: number): 'low' | 'normal' | 'high' {
  return p < 0 ? 'low' : p > 0 ? 'high' : 'normal';
}

export class RequestLimiter {
  private readonly api: RequestQueue;
  private readonly tunnel: RequestQueue;
  private readonly used = new Set<RequestQueue>();
  private delay: WindowedSummary<'queue' | 'priority'> | undefined;
  private timeout: WindowedSummary<'queue' | 'priority'> | undefined;

  constructor(
    private readonly opts: {
      registry: Registry;
      clock: Clock;
      api: QueueLimits;
      tunnel: QueueLimits;
      /** API.RequestTimeout in ms: how long a request may wait for its turn; 0 or absent: no limit, negative: none may wait. */
      requestTimeoutMs?: number;
    },
  ) {
    this.api = new RequestQueue('api', opts.api);
    this.tunnel = new RequestQueue('tunnel', opts.tunnel);
  }

  /** Runs `next` when there is room; answers 503 when the queue is full. */
  async handle(req: IncomingMessage, res: ServerResponse, next: Next): Promise<void> {
    this.setup();
    const path = (req.url ?? '/').split('?')[0];
    const rq = req.method === 'POST' && TUNNEL_PATH.test(path) ? this.tunnel : this.api;
    this.used.add(rq);
    const priority = req.headers.origin ? 1 : 0;
    setResponseLogFields(req, { priority, queue: rq.label });
    const queued = this.opts.clock.now();
    let run: boolean;
    if (rq.hasRoom()) {
      rq.handling++;
      run = true;
    } else {
      run = await new Promise<boolean>((resolve) => {
        let deadline: Timer | undefined;
        const settle = (go: boolean): void => {
          deadline?.cancel();
          resolve(go);
        };
        const w: Waiting = { queued, priority, ready: settle };
        const giveUp = (): void => {
          if (rq.remove(w)) settle(false);
        };
        // A client that leaves while waiting gives its place up, and so
        // does one still waiting at API.RequestTimeout.
        res.once('close', giveUp);
        const timeout = this.opts.requestTimeoutMs ?? 0;
        if (timeout !== 0) deadline = this.opts.clock.setTimer(Math.max(0, timeout), giveUp);
        rq.add(w);
      });
    }
    const labels = { queue: rq.label, priority: priorityName(priority) };
    (run ? this.delay : this.timeout)!.observe(labels, (this.opts.clock.now() - queued) / 1000);
    if (!run) {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(503);
        res.end();
      }
      return;
    }
    try {
      await next(req, res);
    } finally {
      rq.handling--;
      rq.runQueue();
    }
  }

  /** Registers the metrics, once, at the first request (as the reference). */
  private setup(): void {
    if (this.delay) return;
    const registers = [this.opts.registry];
    const self = this;
    const perQueue = (name: string, help: string, value: (rq: RequestQueue) => number): void => {
      const g: Gauge<'queue'> = new Gauge({
        name,
        help,
        labelNames: ['queue'],
        registers,
        collect() {
          for (const rq of self.used) g.set({ queue: rq.label }, value(rq));
        },
      });
    };
    perQueue('arvados_concurrent_requests', 'Number of requests in progress', (rq) => rq.handling);
    perQueue('arvados_max_concurrent_requests', 'Maximum number of concurrent requests', (rq) => rq.limits.maxConcurrent);
    perQueue('arvados_max_queued_requests', 'Maximum number of queued requests', (rq) => rq.limits.maxQueue);
    const usage: Gauge<'queue' | 'priority'> = new Gauge({
      name: 'arvados_queued_requests',
      help: 'Number of requests in queue',
      labelNames: ['queue', 'priority'],
      registers,
      collect() {
        for (const rq of self.used) {
          const counts = { low: 0, normal: 0, high: 0 };
          for (const w of rq.waiting) counts[priorityName(w.priority)]++;
          for (const [priority, n] of Object.entries(counts)) usage.set({ queue: rq.label, priority }, n);
        }
      },
    });
    this.delay = new WindowedSummary({
      name: 'arvados_queue_delay_seconds',
      help: 'Time spent in the incoming request queue before start of processing',
      labelNames: ['queue', 'priority'],
      registers,
      ...REFERENCE_SUMMARY_OPTS,
    });
    this.timeout = new WindowedSummary({
      name: 'arvados_queue_timeout_seconds',
      help: 'Time spent in the incoming request queue before client timed out or disconnected',
      labelNames: ['queue', 'priority'],
      registers,
      ...REFERENCE_SUMMARY_OPTS,
    });
  }
}
