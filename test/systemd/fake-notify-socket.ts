/**
 * A fake systemd notify socket for tests: a Python listener (Node has no
 * AF_UNIX datagram sockets) that reports each datagram it receives.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../cloud/conformance.js';

const LISTENER = fileURLToPath(new URL('fake-notify-socket.py', import.meta.url));

export function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The fake notify socket: every datagram received, in order. */
export class FakeNotifySocket {
  readonly messages: string[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'adc-notify-'));
  readonly path = join(this.dir, 'notify.sock');
  private proc?: ChildProcessWithoutNullStreams;

  async start(): Promise<void> {
    this.proc = spawn('python3', [LISTENER, this.path]);
    let listening = false;
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      if (line === 'LISTENING') listening = true;
      else this.messages.push(JSON.parse(line) as string);
    });
    await waitFor('the fake notify socket to listen', () => listening, 5_000);
  }

  stop(): void {
    this.proc?.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Every KEY=value line received, systemd-notify's BARRIER=1 handshakes left out. */
  lines(): string[] {
    return this.messages.flatMap((m) => m.split('\n')).filter((l) => l !== '' && l !== 'BARRIER=1');
  }
}

