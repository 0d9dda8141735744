/**
 * Reply framing: where each complete top-level reply ends. Every RESP2 type and the RESP3 ones
 * Redis can send (`_ , # ( = ! % ~ >` and `|` attributes, which prefix the value they describe).
 * Nesting needs no stack: framing only has to know how many values are still owed, so an
 * aggregate of n adds n (maps and attributes 2n) to that count.
 */
import { R_CONSUMED, R_COUNT, R_ERROR, R_NEED, R_RESUME_AT, R_RESUME_OWED } from '../api';

export const FRAME_INCOMPLETE = -1;
export const FRAME_ERROR = -2;

/** Smallest value on the wire ("_\r\n"), for the lower bound on bytes still needed. */
const MIN_VALUE_BYTES = 3;
const INT_MAX = 0x7fffffff;

/** Decimal integer in buf[start, end): optional '-', at least one digit. NaN otherwise. */
export function parseInteger(buf: Uint8Array, start: number, end: number): number {
  let p = start;
  let negative = false;
  if (p < end && buf[p] === 0x2d) {
    negative = true;
    p++;
  }
  if (p >= end) return NaN;
  let v = 0;
  for (; p < end; p++) {
    const d = buf[p] - 0x30;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return negative ? -v : v;
}

export class ReplyFramer {
  /** After FRAME_INCOMPLETE: lower bound of the bytes the reply needs from its start (0 = unknown). */
  need = 0;

  /** After FRAME_INCOMPLETE: the value boundary to resume at and the values owed there. */
  resumeAt = 0;
  resumeOwed = 0;

  /**
   * End offset of the complete value starting at `start`, FRAME_INCOMPLETE or FRAME_ERROR.
   * With fromOwed > 0, scanning starts at `fromAt` with that many values owed (a resume).
   */
  frameOne(buf: Uint8Array, start: number, end: number, fromAt = 0, fromOwed = 0): number {
    let owed = 1;
    let p = start;
    if (fromOwed > 0 && fromAt > start && fromAt <= end) {
      owed = fromOwed;
      p = fromAt;
    }
    while (owed > 0) {
      // Incomplete returns leave p at the start of the value they could not finish, with `owed`
      // counting it: the resume point (recorded in incomplete()).
      if (p >= end) return this.incomplete(p + MIN_VALUE_BYTES * owed - start, start, end, p, owed);
      const type = buf[p];
      let r = p + 1;
      while (r < end && buf[r] !== 0x0d) r++;
      if (r + 1 >= end) return this.incomplete(p + MIN_VALUE_BYTES * owed - start, start, end, p, owed);
      if (buf[r + 1] !== 0x0a) return FRAME_ERROR;
      const lineNext = r + 2;
      switch (type) {
        case 0x2b: // + simple string
        case 0x2d: // - error
        case 0x3a: // : integer
        case 0x5f: // _ null
        case 0x2c: // , double
        case 0x23: // # boolean
        case 0x28: // ( big number
          owed--;
          p = lineNext;
          break;
        case 0x24: // $ bulk
        case 0x3d: // = verbatim
        case 0x21: {
          // ! blob error
          const n = parseInteger(buf, p + 1, r);
          if (n === -1) {
            owed--;
            p = lineNext;
            break;
          }
          if (!(n >= 0)) return FRAME_ERROR;
          const next = lineNext + n + 2;
          if (next > end) return this.incomplete(next + MIN_VALUE_BYTES * (owed - 1) - start, start, end, p, owed);
          if (buf[next - 2] !== 0x0d || buf[next - 1] !== 0x0a) return FRAME_ERROR;
          owed--;
          p = next;
          break;
        }
        case 0x2a: // * array
        case 0x7e: // ~ set
        case 0x3e: {
          // > push
          const n = parseInteger(buf, p + 1, r);
          if (n === -1) owed--;
          else if (n >= 0) owed += n - 1;
          else return FRAME_ERROR;
          p = lineNext;
          break;
        }
        case 0x25: {
          // % map
          const n = parseInteger(buf, p + 1, r);
          if (!(n >= 0)) return FRAME_ERROR;
          owed += 2 * n - 1;
          p = lineNext;
          break;
        }
        case 0x7c: {
          // | attribute: n pairs, then the value it describes (still owed)
          const n = parseInteger(buf, p + 1, r);
          if (!(n >= 0)) return FRAME_ERROR;
          owed += 2 * n;
          p = lineNext;
          break;
        }
        default:
          return FRAME_ERROR;
      }
    }
    return p;
  }

  private incomplete(need: number, start: number, end: number, at: number, owed: number): number {
    this.need = need > end - start ? Math.min(need, INT_MAX) : 0;
    this.resumeAt = at;
    this.resumeOwed = owed;
    return FRAME_INCOMPLETE;
  }

  /** Frame complete replies in chunk[from..]; end offsets (absolute) into `ends`. */
  frame(chunk: Uint8Array, from: number, ends: Int32Array, status: Int32Array, resumeAt = 0, resumeOwed = 0): number {
    const end = chunk.length;
    const cap = ends.length;
    let pos = from;
    let count = 0;
    let need = 0;
    let error = 0;
    while (pos < end && count < cap) {
      const e = pos === from ? this.frameOne(chunk, pos, end, resumeAt, resumeOwed) : this.frameOne(chunk, pos, end);
      if (e === FRAME_INCOMPLETE) {
        need = this.need;
        break;
      }
      if (e === FRAME_ERROR) {
        error = 1;
        break;
      }
      ends[count++] = e;
      pos = e;
    }
    status[R_COUNT] = count;
    status[R_CONSUMED] = pos - from;
    status[R_NEED] = need;
    status[R_ERROR] = error;
    const resumable = error === 0 && pos < end && count < cap && this.resumeOwed > 0 && this.resumeOwed <= INT_MAX && this.resumeAt <= INT_MAX;
    status[R_RESUME_AT] = resumable ? this.resumeAt : 0;
    status[R_RESUME_OWED] = resumable ? this.resumeOwed : 0;
    return count;
  }
}
