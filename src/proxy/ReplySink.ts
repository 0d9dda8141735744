/**
 * Whoever waits for a backend reply: a client (tag = its request sequence number), a fragmented
 * request (tag = sub-command index), a fan-out, or the backend's own AUTH. Backends keep
 * (sink, tag) pairs in their pending queue instead of one object per request.
 */
export interface ReplySink {
  /** `reply` is one complete RESP reply, the sink's to keep. */
  onReply(tag: number, reply: Buffer): void;
  /**
   * Sinks with `takesViews` get backend replies as `buf[start, end)` through onReplyRange
   * instead: only valid during the call (a read buffer), so the sink copies what it keeps.
   */
  readonly takesViews?: boolean;
  onReplyRange?(tag: number, buf: Buffer, start: number, end: number): void;
  /**
   * The command waiting for reply `tag` (lowercase Redis name), null or absent when unknown. Asked
   * only when the health checks want to know what a silent server was given (BackendActivity.ts).
   */
  commandName?(tag: number): string | null;
}
