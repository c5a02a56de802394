/**
 * A small, generic SSH server for the lame cloud's VMs and for SSH tests: it
 * speaks real SSH (ssh2 `Server`) on 127.0.0.1, accepts public-key
 * authentication only, and hands every `exec` request to a JavaScript
 * handler instead of a shell. The lame driver builds its VM emulation
 * (`crunch-run --list/--detach/--kill`, the boot probe, the instance secret
 * file) on top of the handler.
 *
 * Faults a test needs are methods: `dropConnections()` (a network drop),
 * `restart({hostKey})` (a reboot, possibly with a new host key),
 * `setAuthorizedKeys()` (a key that stops being accepted).
 *
 * A handler that runs a real process (the loopback driver) takes the
 * channel itself instead (`channelHandler`), so stdin, stdout and stderr
 * stream both ways.
 *
 * The server never keeps the process alive by itself: it belongs to
 * something that does (an emulated VM inside a dispatcher, the loopback
 * host), and goes with it. A client connected to it keeps the process alive
 * through its own socket.
 */
import net from 'node:net';
import ssh2 from 'ssh2';
import type { AuthContext, Connection, ParsedKey, ServerChannel, Server as Ssh2Server } from 'ssh2';
import { generateSshKeyPair } from '../../src/ssh/keys.js';

const { Server, utils } = ssh2;

/** What the handler learns about one `exec` request. */
export interface CommandContext {
  /** The command line exactly as the client sent it. */
  command: string;
  /** Everything the client wrote to stdin, up to its EOF. */
  stdin: Buffer;
  /** Variables the client set with SSH `env` requests before `exec`. */
  env: Record<string, string>;
  /** The name the client authenticated as. */
  username: string;
}

/** What the "process" produced; sent to the client as stdout, stderr and exit-status. */
export interface CommandResult {
  stdout?: string | Buffer;
  stderr?: string | Buffer;
  exitCode: number;
}

/** Runs one command. A rejection becomes exit status 255 with the error's message on stderr. */
export type CommandHandler = (ctx: CommandContext) => Promise<CommandResult>;

/**
 * Runs one command on its channel: reads stdin from `channel`, writes
 * `channel` and `channel.stderr`, and ends with `channel.exit(...)` and
 * `channel.end()`. The context's `stdin` is empty: the channel has it.
 */
export type ChannelHandler = (channel: ServerChannel, ctx: CommandContext) => void;

export interface SshServerOptions {
  /** OpenSSH-format private key (`generateHostKey().private`). */
  hostKey: string;
  /** OpenSSH public key lines accepted for any username; every other key is refused. */
  authorizedKeys: string[];
  /** Runs each command once its stdin is complete. One of handler and channelHandler is required. */
  handler?: CommandHandler;
  /** Runs each command as soon as it arrives, streaming; replaces `handler`. */
  channelHandler?: ChannelHandler;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (an ephemeral port, known after `start()`). */
  port?: number;
}

/** Exit status a real sshd reports when it could not run the command; used when the handler throws. */
const HANDLER_FAILED_EXIT = 255;

/**
 * The SSH server of one emulated VM.
 *
 * The listening socket is our own `net.Server`; accepted sockets are handed to
 * an ssh2 `Server` (never listening itself) with `injectSocket`. That way we
 * hold every socket (to drop them or count them), and a host key change only
 * means building a new ssh2 `Server` for the sockets accepted afterwards.
 */
export class SshServer {
  private readonly handler: CommandHandler | undefined;
  private readonly channelHandler: ChannelHandler | undefined;
  private readonly host: string;
  private wantedPort: number;
  private listener: net.Server | undefined;
  private protocol: Ssh2Server;
  private hostKeyPublic: Buffer;
  private authorized: ParsedKey[];
  private readonly sockets = new Set<net.Socket>();

  constructor(opts: SshServerOptions) {
    if (!opts.handler === !opts.channelHandler) throw new TypeError('SshServer needs exactly one of handler and channelHandler');
    this.handler = opts.handler;
    this.channelHandler = opts.channelHandler;
    this.host = opts.host ?? '127.0.0.1';
    this.wantedPort = opts.port ?? 0;
    this.authorized = parseAuthorizedKeys(opts.authorizedKeys);
    this.hostKeyPublic = publicBlobOf(opts.hostKey);
    this.protocol = this.newProtocolServer(opts.hostKey);
  }

  /** The port listened on (after `start()`); kept across `restart()`. */
  get port(): number {
    return this.wantedPort;
  }

  /** `host:port`, the form an Instance's `address` takes. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** The host key's public blob, byte for byte what ssh2's client `hostVerifier` receives. */
  get hostPublicKey(): Buffer {
    return this.hostKeyPublic;
  }

  /** Starts listening. Resolves once the port is bound. */
  async start(): Promise<void> {
    if (this.listener) return;
    const listener = net.createServer((socket) => this.accept(socket));
    // A listening error after start (rare: EMFILE) must not crash the process.
    listener.on('error', () => undefined);
    listener.unref();
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      listener.once('error', onError);
      listener.listen(this.wantedPort, this.host, () => {
        listener.off('error', onError);
        resolve();
      });
    });
    const addr = listener.address();
    if (addr && typeof addr === 'object') this.wantedPort = addr.port;
    this.listener = listener;
  }

  /** Destroys every open client connection at once, without an SSH disconnect message. */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /**
   * Simulates a reboot: stops listening, drops every connection, and listens
   * again on the same port, with `hostKey` as the new host key if given.
   */
  async restart(opts: { hostKey?: string } = {}): Promise<void> {
    await this.close();
    if (opts.hostKey !== undefined) {
      this.hostKeyPublic = publicBlobOf(opts.hostKey);
      this.protocol = this.newProtocolServer(opts.hostKey);
    }
    await this.start();
  }

  /** Replaces the accepted client keys; applies to authentication attempts from now on. */
  setAuthorizedKeys(keys: string[]): void {
    this.authorized = parseAuthorizedKeys(keys);
  }

  /** Stops listening and drops every connection. Idempotent. */
  async close(): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    this.dropConnections();
    if (!listener) return;
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  }

  /** Open client connections: tests use it to assert that an executor shares one connection. */
  connectionCount(): number {
    return this.sockets.size;
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.unref();
    socket.on('close', () => this.sockets.delete(socket));
    // Resets from clients that go away are normal here.
    socket.on('error', () => undefined);
    // Small request/reply packets: without this each waits out a delayed ACK.
    socket.setNoDelay(true);
    this.protocol.injectSocket(socket);
  }

  private newProtocolServer(hostKey: string): Ssh2Server {
    const server = new Server({ hostKeys: [hostKey] }, (conn) => this.onConnection(conn));
    server.on('error', () => undefined);
    return server;
  }

  private onConnection(conn: Connection): void {
    let username = '';
    conn.on('error', () => undefined);
    conn.on('authentication', (ctx) => {
      if (this.authenticate(ctx)) {
        username = ctx.username;
      }
    });
    conn.on('session', (acceptSession) => {
      const session = acceptSession();
      session.on('error', () => undefined);
      const env: Record<string, string> = {};
      session.on('env', (accept, _reject, info) => {
        env[info.key] = info.val;
        // ssh2 leaves accept undefined when the client did not ask for a reply.
        accept?.();
      });
      session.on('exec', (accept, _reject, info) => {
        const stream = accept();
        const ctx = { command: info.command, env: { ...env }, username };
        if (this.channelHandler) {
          stream.on('error', () => undefined);
          stream.stderr.on('error', () => undefined);
          this.channelHandler(stream, { ...ctx, stdin: Buffer.alloc(0) });
        } else {
          this.runCommand(stream, ctx);
        }
      });
    });
  }

  /**
   * Public-key authentication as sshd does it: a key in the authorized list
   * gets "PK_OK" for the signature-less probe, and is accepted when its
   * signature over the session data verifies. Everything else is refused,
   * offering only `publickey`. Returns true when the client is in.
   */
  private authenticate(ctx: AuthContext): boolean {
    if (ctx.method !== 'publickey') {
      ctx.reject(['publickey']);
      return false;
    }
    const key = this.authorized.find((k) => k.getPublicSSH().equals(ctx.key.data));
    if (!key) {
      ctx.reject(['publickey']);
      return false;
    }
    if (!ctx.signature || !ctx.blob) {
      ctx.accept(); // the probe: "would you accept this key?"
      return false;
    }
    if (key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) {
      ctx.reject(['publickey']);
      return false;
    }
    ctx.accept();
    return true;
  }

  private runCommand(stream: ServerChannel, partial: Omit<CommandContext, 'stdin'>): void {
    stream.on('error', () => undefined);
    stream.stderr.on('error', () => undefined);
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The handler runs once the client has sent EOF (or closed the channel),
    // so it sees the whole of stdin.
    stream.once('end', () => {
      void this.finishCommand(stream, { ...partial, stdin: Buffer.concat(chunks) });
    });
  }

  private async finishCommand(stream: ServerChannel, ctx: CommandContext): Promise<void> {
    let result: CommandResult;
    try {
      result = await this.handler!(ctx);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      result = { stderr: `${message}\n`, exitCode: HANDLER_FAILED_EXIT };
    }
    // Writes to a channel the client already closed are dropped by ssh2, so
    // a client that gave up (timeout, dropped connection) needs no special case.
    if (result.stdout !== undefined && result.stdout.length > 0) stream.write(result.stdout);
    if (result.stderr !== undefined && result.stderr.length > 0) stream.stderr.write(result.stderr);
    stream.exit(result.exitCode);
    stream.end();
  }
}

/** A fresh ed25519 key pair in OpenSSH format (see `generateSshKeyPair`). */
export const generateHostKey = generateSshKeyPair;

function parseOne(text: string, what: string): ParsedKey {
  const parsed = utils.parseKey(text);
  if (parsed instanceof Error) throw new Error(`cannot parse ${what}: ${parsed.message}`);
  return Array.isArray(parsed) ? (parsed as ParsedKey[])[0] : parsed;
}

function publicBlobOf(hostKey: string): Buffer {
  return parseOne(hostKey, 'host key').getPublicSSH();
}

function parseAuthorizedKeys(lines: string[]): ParsedKey[] {
  return lines
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => parseOne(line, 'authorized key'));
}
