/**
 * The files a command writes beside its own output (`demo`'s and
 * `simulate`'s log, `simulate`'s report and plot). Each is opened before the
 * command starts its run, so that a path that cannot be written is a usage
 * error reported in one line, not a stream error once the run has started or
 * an exception after a simulation of many minutes.
 */
import { closeSync, createWriteStream, openSync, writeFileSync, type WriteStream } from 'node:fs';

function open(path: string, what: string): number {
  try {
    return openSync(path, 'w');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot write the ${what} ${path}${code ? ` (${code})` : ''}`);
  }
}

export function openLogFile(path: string): WriteStream {
  return createWriteStream(path, { fd: open(path, 'log file') });
}

/** A file written once, at the end: opened (and emptied) now. */
export interface OutputFile {
  write(text: string): void;
  close(): void;
}

export function openOutputFile(path: string, what: string): OutputFile {
  let fd: number | undefined = open(path, what);
  return {
    write(text: string): void {
      if (fd !== undefined) writeFileSync(fd, text);
    },
    close(): void {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
