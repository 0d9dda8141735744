/**
 * When a client is read and when it is not: backpressure per command, not per read. Reading stops
 * for any of four reasons, each a bit, and restarts once none is left:
 * - Pipeline: `limits.maxPipeline` commands in flight (restarts at half of it);
 * - Output: unsent replies above `limits.clientOutputHighWater` (restarts on the stream's drain);
 * - Backend: a backend it feeds has more than `limits.backendHighWater` queued (restarts on its drain);
 * - Closing: QUIT, a protocol error, shutdown (never restarts).
 * Two more stop dispatching but keep reading the socket (into the reader's deferred bytes), so a
 * client that disconnects meanwhile is seen at once (src/proxy/dedicated/):
 * - Held: blocked in a blocking command or WAIT, or waiting for EXEC / DISCARD / UNWATCH: later
 *   commands run after it, as on one Redis connection;
 * - Barrier: a command for a dedicated connection waits until the client's earlier commands are
 *   answered (`redo`: that command itself was not dispatched and runs first on restart).
 * While held, more than HELD_INPUT_MAX deferred bytes stop reading too (HeldInput).
 * On restart the commands read but not dispatched while stopped (the reader's deferred bytes) run
 * first, and may stop reading again.
 */
import type { CongestionWaiter } from './BackendConnection';
import type { ByteStream } from './io';
import type { ProxyLimits } from './ProxyContext';

export const PAUSE_PIPELINE = 1;
export const PAUSE_OUTPUT = 2;
export const PAUSE_BACKEND = 4;
export const PAUSE_CLOSING = 8;
export const PAUSE_HELD = 16;
export const PAUSE_BARRIER = 32;
export const PAUSE_HELD_INPUT = 64;
/** Reasons that also stop reading the socket. */
const STREAM_PAUSES = ~(PAUSE_HELD | PAUSE_BARRIER);
/** Deferred input kept while held before the socket is no longer read. */
export const HELD_INPUT_MAX = 1 << 20;
/** CLIENT PAUSE holds this client's next command (src/proxy/clients/ClientDirectory.ts). */
export const PAUSE_CLIENTS = 128;

/** What flow control acts on: the client's stream and its reader's deferred commands. */
export interface FlowHost {
  readonly stream: ByteStream;
  readonly isClosed: boolean;
  readonly inFlight: number;
  readonly limits: ProxyLimits;
  /** Dispatch the commands kept while reading was stopped. */
  readDeferred(): void;
}

export class FlowControl implements CongestionWaiter {
  /** PAUSE_* bits; 0 = reading. */
  paused = 0;
  /** The command at which dispatching stopped (a barrier) was not dispatched: the reader keeps it. */
  redo = false;
  /** The id of the command CLIENT PAUSE holds (-1: none): CLIENT LIST shows it as `cmd`, with flag `b`, as Redis. */
  pausedCommand = -1;
  private streamPaused = false;

  constructor(private readonly host: FlowHost) {}

  pause(reason: number): void {
    this.paused |= reason;
    if ((reason & STREAM_PAUSES) !== 0 && !this.streamPaused) {
      this.streamPaused = true;
      this.host.stream.pause();
    }
  }

  resume(reason: number): void {
    if ((this.paused & reason) === 0) return;
    this.paused &= ~reason;
    if ((reason & (PAUSE_HELD | PAUSE_BARRIER)) !== 0) this.paused &= ~PAUSE_HELD_INPUT;
    const host = this.host;
    if (host.isClosed) return;
    if (this.paused === 0) host.readDeferred();
    if ((this.paused & STREAM_PAUSES) === 0 && this.streamPaused) {
      this.streamPaused = false;
      host.stream.resume();
    }
  }

  /** After one command was dispatched: should reading stop before the next one? */
  shouldStop(): boolean {
    const host = this.host;
    if (host.inFlight >= host.limits.maxPipeline) this.pause(PAUSE_PIPELINE);
    return this.paused !== 0;
  }

  /** After the output was written: `queued` bytes are still waiting in the stream. */
  afterFlush(queued: number): void {
    const host = this.host;
    if (queued > host.limits.clientOutputHighWater) this.pause(PAUSE_OUTPUT);
    if ((this.paused & PAUSE_PIPELINE) !== 0 && host.inFlight <= host.limits.maxPipeline >> 1) this.resume(PAUSE_PIPELINE);
  }

  /** A backend this client fed is below its high-water mark again. */
  resumeAfterBackendDrain(): void {
    this.resume(PAUSE_BACKEND);
  }
}
