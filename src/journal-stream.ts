/**
 * Whether a stream is systemd's journal: a module of its own, with nothing
 * heavy behind it, so the command line can ask before the logger loads.
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
