/**
 * For fuzz properties that run the simulator: a log stream that keeps the
 * dispatcher's lines, and the lines that say the dispatcher (or the
 * simulator's player) itself broke rather than the input being refused.
 */
import { Writable } from 'node:stream';

const INTERNAL = /scheduling pass failed|scheduler loop failed|TypeError|RangeError|ReferenceError|SyntaxError|is not a function|Cannot read prop|undefined is not|Maximum call stack/;

/** A log stream for `runSimulation`, and the lines of it that report an internal error. */
export function simLog(): { stream: Writable; internalErrors: () => string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
      done();
    },
  });
  return { stream, internalErrors: () => lines.filter((l) => INTERNAL.test(l)) };
}
