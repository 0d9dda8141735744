/**
 * What the data path needs from a TCP connection, with two implementations: NativeStream (the
 * addon's libuv sockets: one shared read buffer, output copied into memory the stream owns) and
 * NodeStream (a net.Socket, for when the addon is not loaded or a backend is a host name).
 *
 * Ownership rule for both: bytes given to `onStreamData` are valid during that call only, and
 * `append` copies. So a connection may forward views of what it just read without keeping
 * anything alive, and the read buffer can be reused for the next read.
 */
export interface StreamHandler {
  /** Bytes `data[start, end)` arrived; only valid during this call (copy what must outlive it). */
  onStreamData(data: Buffer, start: number, end: number): void;
  /** The peer half-closed its side (FIN). */
  onStreamEnd(): void;
  /** Output that had to wait in the stream is now all written. */
  onStreamDrain(): void;
  /** An outgoing connection is established. */
  onStreamConnect(): void;
  /** Closed (by us, the peer or an error), exactly once; `error` is a code like ECONNRESET. */
  onStreamClose(error: string | null): void;
  /** No bytes read or written for the idle timeout (see setIdleTimeout). */
  onStreamTimeout(): void;
}

export interface ByteStream {
  readonly kind: 'native' | 'node';
  /** "address:port" of the peer ('' if unknown). */
  readonly remote: string;
  /** Bytes handed to the stream that the kernel has not taken yet (as of the last flush). */
  readonly queued: number;
  /**
   * Hand the stream to its owner: events go to `handler` from now on, and an accepted stream
   * (paused until then) starts reading. Streams made by connectedStream come attached.
   */
  attach(handler: StreamHandler): void;
  /** Copy `data[start, end)` into the output; nothing is sent until `flush`. */
  append(data: Buffer, start?: number, end?: number): void;
  /** Send the output (one write); returns the bytes still queued (0 = the kernel took all). */
  flush(): number;
  /** Stop / restart reading (backpressure). */
  pause(): void;
  resume(): void;
  /** Send FIN once the output is written; the stream closes when the peer has closed too. */
  end(): void;
  /** Close now, dropping unsent output; onStreamClose follows. */
  destroy(): void;
  /** onStreamTimeout after `ms` without traffic (0 = never). */
  setIdleTimeout(ms: number): void;
}

/** The handler of a stream nobody owns yet (accepted, before `attach`): its events are ignored. */
export const DETACHED: StreamHandler = {
  onStreamData: () => undefined,
  onStreamEnd: () => undefined,
  onStreamDrain: () => undefined,
  onStreamConnect: () => undefined,
  onStreamClose: () => undefined,
  onStreamTimeout: () => undefined,
};
