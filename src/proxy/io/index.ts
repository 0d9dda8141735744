/**
 * Picks the socket layer for the data path: NativeStream when config.io is "native" and the
 * addon (with its io functions) is loaded, NodeStream otherwise. Clients arrive through
 * listenForClients (ClientListener.ts).
 */
import net from 'node:net';
import { loadAddon } from '../../native/NativeHotPath';
import type { ByteStream, StreamHandler } from './ByteStream';
import { IoAddon, NativeStream, nativeIoReady, setupNativeIo } from './NativeStream';
import { NodeStream } from './NodeStream';

export type { ByteStream, StreamHandler } from './ByteStream';
export { acceptMode, listenForClients, workersBindOwnSockets } from './ClientListener';
export type { ClientListener } from './ClientListener';
export { nativeIoTotals, trimNativeMemory } from './NativeStream';
export type { NativeIoTotals } from './NativeStream';

/** Sets up the addon's sockets if wanted and possible; returns whether they are in use. */
export function enableNativeIo(wanted: boolean, hotPathIsNative: boolean): boolean {
  if (!wanted || !hotPathIsNative) return false;
  if (nativeIoReady()) return true;
  try {
    const addon = loadAddon() as unknown as Partial<IoAddon>;
    if (typeof addon.ioSetup !== 'function' || typeof addon.ioListen !== 'function') return false;
    setupNativeIo(addon as IoAddon);
    return true;
  } catch {
    return false;
  }
}

/** A stream connecting to host:port; native only for IP literals. */
export function connectedStream(host: string, port: number, handler: StreamHandler, native: boolean, keepAliveMs: number): ByteStream {
  if (native && net.isIP(host) !== 0) return NativeStream.connect(host, port, handler, keepAliveMs);
  const stream = NodeStream.connect(host, port, handler);
  stream.setNoDelay();
  stream.setKeepAlive(keepAliveMs);
  return stream;
}

/** True when `b` views the native streams' shared read buffer (valid only during a read). */
export { isSharedReadBuffer } from './NativeStream';
