/**
 * Creating instances: the checks that decline a create at once (quota,
 * MaxInstances, rate limit, back-off, MaxConcurrentInstanceCreateOps), the
 * cloud call in the background, and what each kind of failure does to later
 * creates (ARVADOS.md section 8).
 */
import { randomBytes } from 'node:crypto';
import { asCapacityError, asQuotaError, asRateLimitError } from '../cloud/errors.js';
import type { InstanceTags } from '../cloud/types.js';
import type { InstanceType } from '../config/types.js';
import { addSecret, goNanoseconds, removeSecret } from '../log.js';
import type { InstanceView } from '../scheduler/interfaces.js';
import type { PendingCreate, PoolCore } from './pool-core.js';
import { CAPACITY_ERROR_TTL_MS, CREATE_ERROR_BACKOFF_MS, TAG_IDLE_BEHAVIOR, TAG_INSTANCE_SECRET, TAG_INSTANCE_SET_ID, TAG_INSTANCE_TYPE } from './pool-config.js';
import { instanceInitCommand } from '../arvados/crunch-run.js';

/** Length in hex digits of the InstanceSecret tag (the reference's instanceSecretLength). */
export const INSTANCE_SECRET_HEX_LENGTH = 40;

/** Why a create would be declined right now, or undefined if it may go ahead. */
export function createBlocker(core: PoolCore, type: InstanceType): string | undefined {
  if (core.stopped) return 'pool stopped';
  if (core.cfg.runnerMissing) return 'runner binary not loaded';
  const count = core.instanceCount();
  if (core.limits.atMaxInstances(count)) return 'at MaxInstances';
  if (core.limits.quotaErrorActive(count)) return 'at cloud quota';
  if (core.limits.createHold.active) return core.limits.createHold.reason;
  if (core.limits.atCapacity(type)) return 'at capacity for this instance type';
  const inFlight = core.creating.size;
  if (core.cfg.maxConcurrentCreates > 0 && inFlight >= core.cfg.maxConcurrentCreates) return 'reached MaxConcurrentInstanceCreateOps';
  return undefined;
}

/**
 * Starts creating an instance of `type`. Returns the pending create's view
 * (booting, placeholder id) for the scheduler to allocate onto, or
 * undefined when declined.
 */
export function startCreate(core: PoolCore, type: InstanceType, note?: string): InstanceView | undefined {
  // The scheduler may ask for many creates a pass while the pool declines
  // them all: keep the declined path cheap (no child logger).
  const blocker = createBlocker(core, type);
  if (blocker !== undefined) {
    core.log.debug('create declined', { InstanceType: type.Name, Reason: blocker });
    return undefined;
  }
  const secret = randomBytes(INSTANCE_SECRET_HEX_LENGTH / 2).toString('hex');
  // Registered before any log line could mention it (tags are logged nowhere, but errors may quote them).
  addSecret(core.log, secret);
  const pending: PendingCreate = { placeholderId: core.nextPlaceholderId(), type, secret, startedAt: core.clock.now(), ...(note === undefined ? {} : { note }) };
  core.creating.set(secret, pending);
  if (core.limits.atMaxInstances(core.instanceCount())) {
    core.log.info(`now at MaxInstances limit of ${core.cfg.maxInstances} instances`, { InstanceType: type.Name });
  }
  void runCreate(core, pending);
  core.notify();
  return core.pendingView(pending);
}

async function runCreate(core: PoolCore, pending: PendingCreate): Promise<void> {
  const { type, secret } = pending;
  const tags: InstanceTags = {
    [core.tagKey(TAG_INSTANCE_SET_ID)]: core.deps.instanceSetId,
    [core.tagKey(TAG_INSTANCE_TYPE)]: type.Name,
    [core.tagKey(TAG_IDLE_BEHAVIOR)]: 'run',
    [core.tagKey(TAG_INSTANCE_SECRET)]: secret,
  };
  const initCommand = instanceInitCommand(secret, core.cfg.instanceInitCommand);
  try {
    const inst = await core.deps.instanceSet.create(type, core.cfg.imageId, tags, initCommand, core.deps.publicKey);
    if (core.stopped) return;
    // Still in `creating`, so a new worker starts as booting.
    const { worker, isNew } = core.addOrUpdateWorker(inst);
    if (isNew) worker.log.info('instance created');
  } catch (err) {
    // Should the instance exist after all, listing it registers the secret again.
    removeSecret(core.log, secret);
    if (core.stopped) return;
    noteCreateFailure(core, type, err);
  } finally {
    core.creating.delete(secret);
    core.limits.noteInstanceCount(core.instanceCount());
    core.notify();
  }
}

function noteCreateFailure(core: PoolCore, type: InstanceType, err: unknown): void {
  const quota = asQuotaError(err);
  const capacity = asCapacityError(err);
  const rateLimit = asRateLimitError(err);
  // The reference logs every failed create at error, with these two flags.
  const fields: Record<string, unknown> = { InstanceType: type.Name, error: err, isCapacityError: capacity !== undefined, isQuotaError: quota !== undefined };
  // As the reference, each kind is looked for on its own: an error that is two
  // kinds at once (a driver's AggregateError, or one kind as the other's cause)
  // sets both holds, and a rate limit is honoured whatever else the error is.
  const kinds: string[] = [];
  if (quota) {
    // The failed create is still counted in `creating`; the others are what must go away.
    const others = core.instanceCount() - 1;
    const hold = core.limits.noteQuotaError(others, quota.message);
    // The reference's info lines for the two kinds of quota wait (beside the
    // error below); the second only when the count waited for is new or lower.
    if (others < 1) core.log.info('quota error with 0 running -- waiting for quotaErrorTTL', { InstanceType: type.Name, atQuotaUntil: new Date(hold.until).toISOString() });
    else if (hold.lowered) core.log.info('quota error -- waiting for next instance shutdown', { InstanceType: type.Name, atQuotaUntilFewerInstances: hold.fewerThan });
    kinds.push('cloud quota reached; pausing creates');
    fields.Instances = others;
  }
  if (capacity) {
    const held = core.limits.noteCapacityError(capacity, type);
    core.log.info('capacity error -- pausing instance create calls', {
      InstanceType: type.Name,
      capacityErrorTTL: goNanoseconds(CAPACITY_ERROR_TTL_MS),
      capKey: held.key,
      atCapacityUntil: new Date(held.until).toISOString(),
      isInstanceTypeSpecific: capacity.isInstanceTypeSpecific,
      isInstanceQuotaGroupSpecific: capacity.isQuotaGroupSpecific,
    });
    kinds.push('insufficient capacity');
  }
  if (rateLimit) {
    core.limits.noteRateLimit(rateLimit);
    kinds.push('cloud rate limit; suspending creates');
    fields.ResumeAt = new Date(rateLimit.earliestRetry).toISOString();
  }
  if (kinds.length === 0) core.limits.noteCreateError(CREATE_ERROR_BACKOFF_MS, err instanceof Error ? err.message : String(err));
  // One error line per failure, rate-limited per kind (the first kind found names it).
  const key = quota ? 'create quota' : capacity ? `create capacity ${type.ProviderType}` : rateLimit ? 'create rate limit' : `create failed ${type.Name}`;
  core.warnings.error(kinds.length ? `create failed: ${kinds.join('; ')}` : 'create failed', fields, key);
}
