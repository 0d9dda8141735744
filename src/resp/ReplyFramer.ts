/**
 * Splits a connection's byte stream into whole RESP replies, in JS: the proxy's subscriber and
 * dedicated connections (the multiplexed BackendConnection frames in the native addon) and the
 * control client (RespClient). Linear in the size of a reply however many reads it takes, as the
 * native framer is:
 * - an incomplete reply at the end of a read is kept in a PartialInput (one growing buffer), so
 *   it is copied about twice in all, not once per read;
 * - framing resumes where it stopped (the reference framer's stackless resume point: the value
 *   it could not finish and how many values are still owed there), so an array of 100,000
 *   elements is not walked again from its start on every read;
 * - while a bulk string's announced length has not arrived (`need`), reads are only appended.
 */
import { FRAME_ERROR, FRAME_INCOMPLETE, ReplyFramer as ValueFramer } from '../native/reference/replyFramer';
import { PartialInput } from './PartialInput';

/**
 * One whole reply buf[start, end): a view into the read buffer (valid during the call only) or
 * into the kept bytes. False stops framing (the connection closed).
 */
export type OnReply = (buf: Buffer, start: number, end: number) => boolean;

export class ReplyFramer {
  private readonly partial = new PartialInput();
  private readonly values = new ValueFramer();
  /** Where framing of the kept reply resumes: offset in the kept bytes and values owed there (0: from its start). */
  private resumeAt = 0;
  private resumeOwed = 0;

  /** Bytes data[start, end) were read: `onReply` for each whole reply. False: not RESP. */
  feed(data: Buffer, start: number, end: number, onReply: OnReply): boolean {
    let buf = data;
    let pos = start;
    let resumeAt = 0;
    let resumeOwed = 0;
    const partial = this.partial;
    if (partial.active) {
      partial.append(data.subarray(start, end));
      if (!partial.ready) return true; // a bulk string still short of its announced length
      buf = partial.take();
      pos = 0;
      end = buf.length;
      resumeAt = this.resumeAt;
      resumeOwed = this.resumeOwed;
    }
    // One view per read (framing and decoding must not look past `end`), not one per reply.
    const view = end === buf.length ? buf : buf.subarray(0, end);
    const values = this.values;
    while (pos < end) {
      const next = values.frameOne(view, pos, end, resumeAt, resumeOwed);
      resumeOwed = 0; // the resume point belongs to the first reply only
      if (next === FRAME_ERROR) return false;
      if (next === FRAME_INCOMPLETE) break;
      if (!onReply(view, pos, next)) return true;
      pos = next;
    }
    if (pos < end) {
      partial.keep(view.subarray(pos, end), values.need);
      this.resumeAt = values.resumeAt - pos;
      this.resumeOwed = values.resumeOwed;
    }
    return true;
  }

  /** The connection closed: drop the kept bytes. */
  clear(): void {
    this.partial.clear();
    this.resumeAt = 0;
    this.resumeOwed = 0;
  }
}
