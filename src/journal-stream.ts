/**
 * Writing to systemd's journal through stderr: whether a stream is the
 * journal's, and the `<N>` prefix that gives a line its priority. A module of
 * its own, with nothing heavy behind it, so the command line can use it
 * before the logger loads.
 */
import { fstatSync } from 'node:fs';

/**
 * True when file descriptor `fd` is the stream systemd connected to the
 * journal: `JOURNAL_STREAM` (`DEVICE:INODE`, set by systemd for a unit whose
 * output goes to the journal) names its device and inode. A unit whose
 * output goes elsewhere, a shell's pipe, or a child that inherited the
 * variable but not the stream gets false.
 */
export function isJournalStream(fd: number, env: NodeJS.ProcessEnv = process.env): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]!) && st.ino === BigInt(m[2]!);
  } catch {
    return false;
  }
}

/**
 * syslog priorities (sd-daemon's `<N>` prefixes) by winston level: journald
 * reads the prefix as the line's PRIORITY and drops it from the message.
 */
const JOURNAL_PRIORITY: Readonly<Record<string, number>> = {
  error: 3,
  warn: 4,
  info: 6,
  verbose: 7,
  debug: 7,
  silly: 7,
};

/** The prefix that gives a line of winston level `level` its priority in the journal (info for an unknown level). */
export function journalPrefix(level: string): string {
  return `<${JOURNAL_PRIORITY[level] ?? 6}>`;
}
