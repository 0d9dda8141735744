/**
 * Whoever waits for a backend reply: a client (tag = its request sequence number), a fragmented
 * request (tag = sub-command index), a fan-out, or the backend's own AUTH. Backends keep
 * (sink, tag) pairs in their pending queue instead of one object per request.
 */
export interface ReplySink {
  /** `reply` is one complete RESP reply; it may be a view into a backend read buffer. */
  onReply(tag: number, reply: Buffer): void;
}
