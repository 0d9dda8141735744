/**
 * Where clients come from: a listening socket that yields ByteStreams, paused until the owner
 * attaches. Native (the addon accepts on a socket it owns, no Node handle involved) when the
 * addon's sockets are in use; net.Server otherwise. Inside node:cluster workers on Linux each
 * worker binds its own SO_REUSEPORT socket to listen.host:port and the kernel spreads the
 * connections (measured against node:cluster's round-robin handoff in benchmarks/connections.ts);
 * elsewhere a worker uses node:cluster's shared socket and serves its clients through net.Socket.
 */
import cluster from 'node:cluster';
import dns from 'node:dns';
import net from 'node:net';
import type { ByteStream } from './ByteStream';
import { loadAddon } from '../../native/NativeHotPath';
import { NativeListener } from './NativeStream';
import { NodeStream } from './NodeStream';

/** Like Node's default. */
const BACKLOG = 511;

export interface ClientListener {
  readonly kind: 'native' | 'node';
  /** SO_REUSEPORT: this process has its own socket among several on the same address. */
  readonly reusePort: boolean;
  readonly address: { host: string; port: number };
  /** Stop accepting (connections already accepted are not touched). */
  close(): Promise<void>;
}

export interface ListenOptions {
  host: string;
  port: number;
  /** The addon's sockets are in use. */
  nativeIo: boolean;
  onStream(stream: ByteStream): void;
  /** An error of the listening socket after it listens. */
  onError(err: Error): void;
}

/**
 * How this process should accept: natively, with SO_REUSEPORT when it is one of several
 * node:cluster workers on Linux, or through net.Server (node:cluster's shared socket in a
 * worker elsewhere). With port 0 the primary lets the first worker bind alone and hands the port
 * it got to the others (src/supervisor/listen.ts), so every worker serves the same port.
 */
export function acceptMode(nativeIo: boolean, platform = process.platform, isWorker = cluster.isWorker): { native: boolean; reusePort: boolean } {
  if (!nativeIo) return { native: false, reusePort: false };
  if (!isWorker) return { native: true, reusePort: false };
  if (platform === 'linux') return { native: true, reusePort: true };
  return { native: false, reusePort: false };
}

/**
 * For the primary, before forking: will the workers bind sockets of their own (SO_REUSEPORT)
 * rather than share node:cluster's? Mirrors what a worker decides (io: native, Linux, the addon
 * with its socket functions loads, KVSTORE_NATIVE not 0).
 */
export function workersBindOwnSockets(io: string, platform = process.platform): boolean {
  if (io !== 'native' || platform !== 'linux' || process.env.KVSTORE_NATIVE === '0') return false;
  try {
    return typeof (loadAddon() as unknown as { ioListen?: unknown }).ioListen === 'function';
  } catch {
    return false;
  }
}

export async function listenForClients(options: ListenOptions): Promise<ClientListener> {
  const mode = acceptMode(options.nativeIo);
  if (mode.native) {
    const ip = net.isIP(options.host) !== 0 ? options.host : (await dns.promises.lookup(options.host)).address;
    const listener = NativeListener.listen(ip, options.port, BACKLOG, mode.reusePort, (s) => options.onStream(s));
    return {
      kind: 'native',
      reusePort: mode.reusePort,
      address: { host: ip, port: listener.port },
      close: async () => listener.close(),
    };
  }
  const server = net.createServer({ noDelay: true, allowHalfOpen: true, pauseOnConnect: true }, (socket) => options.onStream(new NodeStream(socket)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', options.onError);
  const addr = server.address() as net.AddressInfo;
  return {
    kind: 'node',
    reusePort: false,
    address: { host: addr.address, port: addr.port },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
