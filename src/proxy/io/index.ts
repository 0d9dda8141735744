/**
 * Picks the socket layer for the data path: NativeStream when config.io is "native" and the
 * addon (with IoStream) is loaded, NodeStream otherwise.
 */
import net from 'node:net';
import { loadAddon } from '../../native/NativeHotPath';
import type { ByteStream, StreamHandler } from './ByteStream';
import { IoAddon, NativeStream, nativeIoReady, setupNativeIo } from './NativeStream';
import { NodeStream } from './NodeStream';

export type { ByteStream, StreamHandler } from './ByteStream';

/** Sets up the addon's sockets if wanted and possible; returns whether they are in use. */
export function enableNativeIo(wanted: boolean, hotPathIsNative: boolean): boolean {
  if (!wanted || !hotPathIsNative) return false;
  if (nativeIoReady()) return true;
  try {
    const addon = loadAddon() as unknown as Partial<IoAddon>;
    if (typeof addon.IoStream !== 'function' || typeof addon.ioSetup !== 'function') return false;
    setupNativeIo(addon as IoAddon);
    return true;
  } catch {
    return false;
  }
}

/** The fd behind an accepted net.Socket (Node keeps it on the internal handle). */
function socketFd(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

/**
 * A stream for an accepted client socket (accepted with pauseOnConnect, so Node has read
 * nothing). Native: the fd is duplicated into an IoStream and the Node socket closed.
 */
export function acceptedStream(socket: net.Socket, handler: StreamHandler, native: boolean): ByteStream {
  if (native) {
    const fd = socketFd(socket);
    if (fd >= 0) {
      try {
        const stream = NativeStream.adopt(fd, handler);
        socket.destroy();
        return stream;
      } catch {
        // e.g. out of file descriptors for the dup: serve this client through net.Socket
      }
    }
  }
  const stream = new NodeStream(socket, handler);
  socket.setNoDelay(true);
  socket.resume();
  return stream;
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
