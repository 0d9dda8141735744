/**
 * When a client is read and when it is not: backpressure per command, not per read. Reading stops
 * for any of four reasons, each a bit, and restarts once none is left:
 * - Pipeline: `limits.maxPipeline` commands in flight (restarts at half of it);
 * - Output: unsent replies above `limits.clientOutputHighWater` (restarts on the stream's drain);
 * - Backend: a backend it feeds has more than `limits.backendHighWater` queued (restarts on its drain);
 * - Closing: QUIT, a protocol error, shutdown (never restarts).
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

  constructor(private readonly host: FlowHost) {}

  pause(reason: number): void {
    if (this.paused === 0) this.host.stream.pause();
    this.paused |= reason;
  }

  resume(reason: number): void {
    if ((this.paused & reason) === 0) return;
    this.paused &= ~reason;
    const host = this.host;
    if (this.paused !== 0 || host.isClosed) return;
    host.readDeferred();
    if (this.paused === 0) host.stream.resume();
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
