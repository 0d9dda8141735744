/**
 * Where clients come from: a listening socket that yields ByteStreams, paused until the owner
 * attaches. Native (the addon accepts on a socket it owns, no Node handle involved) when the
 * addon's sockets are in use; net.Server otherwise. Inside node:cluster workers on Linux each
 * worker binds its own SO_REUSEPORT socket to listen.host:port and the kernel spreads the
 * connections; elsewhere a worker uses node:cluster's shared socket (round-robin handoff by the
 * primary) and serves its clients through net.Socket.
 */
import cluster from 'node:cluster';
import dns from 'node:dns';
import net from 'node:net';
import type { ByteStream } from './ByteStream';
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
 * How this process should accept: natively (with SO_REUSEPORT when several worker processes
 * listen), or through net.Server. Port 0 in a worker stays with node:cluster's shared socket:
 * each worker would otherwise get a port of its own.
 */
export function acceptMode(nativeIo: boolean, port: number, platform = process.platform, isWorker = cluster.isWorker): { native: boolean; reusePort: boolean } {
  if (!nativeIo) return { native: false, reusePort: false };
  if (!isWorker) return { native: true, reusePort: false };
  if (platform === 'linux' && port !== 0) return { native: true, reusePort: true };
  return { native: false, reusePort: false };
}

export async function listenForClients(options: ListenOptions): Promise<ClientListener> {
  const mode = acceptMode(options.nativeIo, options.port);
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
