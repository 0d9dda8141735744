/**
 * The I/O a worker's data path is built on: how backend streams are opened, and the clock.
 * Injected (ProxyServerOptions.io → Router → BackendConnection, and the ClientConnections) so the
 * data path runs on fake streams and a fake clock in unit tests (test/helpers/fakeIo.ts);
 * `systemIo` is the real one.
 */
import { Clock, systemClock } from './Clock';
import { ByteStream, connectedStream, StreamHandler } from './io';

/** Open a stream to host:port; `native`: the addon's sockets where possible. */
export type ConnectStream = (host: string, port: number, handler: StreamHandler, native: boolean, keepAliveMs: number) => ByteStream;

export interface DataPathIo {
  readonly connect: ConnectStream;
  readonly clock: Clock;
}

export const systemIo: DataPathIo = { connect: connectedStream, clock: systemClock };
