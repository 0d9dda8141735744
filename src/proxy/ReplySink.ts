/**
 * Whoever waits for a backend reply: a client (tag = its request sequence number), a fragmented
 * request (tag = sub-command index), a fan-out, or the backend's own AUTH. Backends keep
 * (sink, tag) pairs in their pending queue instead of one object per request.
 */
export interface ReplySink {
  /**
   * `reply` is one complete RESP reply. A sink with `takesViews` may get a view into a backend's
   * read buffer that is only valid during the call (it copies what it keeps); other sinks get
   * Buffers they may keep.
   */
  onReply(tag: number, reply: Buffer): void;
  readonly takesViews?: boolean;
}
