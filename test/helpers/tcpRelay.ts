/**
 * A TCP relay on 127.0.0.1 that a test owns: a client given the relay's address instead of the
 * target's (e.g. one fleet proxy's etcd endpoint) loses the target when the test cuts the relay,
 * while everyone else still reaches it. `cut()` closes every relayed connection and refuses new
 * ones (the listening socket is closed: connection refused, as for a dead host); `restore()`
 * listens again on the same port.
 */
import net from 'node:net';

export interface TcpRelay {
  /** "127.0.0.1:port" to give the client. */
  address: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
}

export async function startTcpRelay(targetHost: string, targetPort: number, teardown: (fn: () => void | Promise<void>) => void): Promise<TcpRelay> {
  const sockets = new Set<net.Socket>();
  const relay = (client: net.Socket) => {
    const upstream = net.connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  };
  let server: net.Server;
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server = net.createServer(relay);
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    });
  const port = await listen(0);
  let open = true;
  const cut = async () => {
    if (!open) return;
    open = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  const restore = async () => {
    if (open) return;
    await listen(port);
    open = true;
  };
  teardown(cut);
  return { address: `127.0.0.1:${port}`, cut, restore };
}
