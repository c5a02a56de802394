/**
 * The log file a command writes beside its own output (`demo`, `simulate`).
 * Opened at once, so that a path that cannot be written is a usage error the
 * command reports in one line, not a stream error after the run has started.
 */
import { createWriteStream, openSync, type WriteStream } from 'node:fs';

export function openLogFile(path: string): WriteStream {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot write the log file ${path}${code ? ` (${code})` : ''}`);
  }
  return createWriteStream(path, { fd });
}
