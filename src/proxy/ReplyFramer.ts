/**
 * Splits a backend connection's byte stream into whole RESP replies for the connections that
 * frame in JS (subscriber and dedicated connections; the multiplexed BackendConnection frames in
 * the native addon). An incomplete reply at the end of a read is kept in a PartialInput, so a big
 * reply arriving in many reads is copied about twice in all, not once per read.
 */
import { replyEnd } from '../resp';
import { PartialInput } from './PartialInput';

/**
 * One whole reply buf[start, end): a view into the read buffer (valid during the call only) or
 * into the kept bytes. False stops framing (the connection closed).
 */
export type OnReply = (buf: Buffer, start: number, end: number) => boolean;

export class ReplyFramer {
  private readonly partial = new PartialInput();

  /** Bytes data[start, end) were read: `onReply` for each whole reply. False: not RESP. */
  feed(data: Buffer, start: number, end: number, onReply: OnReply): boolean {
    let buf = data;
    let pos = start;
    const partial = this.partial;
    if (partial.active) {
      partial.append(data.subarray(start, end));
      buf = partial.take();
      pos = 0;
      end = buf.length;
    }
    // One view per read (replyEnd must not look past `end`), not one per reply.
    const view = end === buf.length ? buf : buf.subarray(0, end);
    while (pos < end) {
      let next: number;
      try {
        next = replyEnd(view, pos);
      } catch {
        return false;
      }
      if (next < 0) break;
      if (!onReply(view, pos, next)) return true;
      pos = next;
    }
    if (pos < end) partial.keep(view.subarray(pos, end), 0);
    return true;
  }

  /** The connection closed: drop the kept bytes. */
  clear(): void {
    this.partial.clear();
  }
}
