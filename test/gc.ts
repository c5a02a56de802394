/**
 * V8's gc for tests that check what is left reachable, exposed at run time
 * (mocha runs without --expose-gc).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
export const gc = runInNewContext('gc') as () => void;

/** Collects until `ref` is gone or a few rounds have passed (a WeakRef holds its target to the end of the current job). */
export async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return ref.deref() === undefined;
}
