/**
 * An executor that refuses new commands once its owner is closed.
 */
import { SshConnectError } from './errors.js';
import type { Executor } from './executor.js';

/**
 * `inner`, refusing new commands once the worker is closed. A probe (boot
 * probe, then `--list`) or a runner still under way when its worker leaves
 * the pool would otherwise open a new connection for its next command,
 * which nobody would ever close.
 */
export function refusingAfterClose(inner: Executor, closed: () => boolean, id: string): Executor {
  return {
    execute: (command, options) =>
      closed() ? Promise.reject(new SshConnectError(id, 'closed', 'the worker was dropped by the pool; no more commands')) : inner.execute(command, options),
    setTarget: (address) => inner.setTarget(address),
    close: () => inner.close(),
    firstLoginAt: () => inner.firstLoginAt?.(),
  };
}
