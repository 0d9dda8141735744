/**
 * Request framing as Redis 7.0 networking.c does it (processInputBuffer → processMultibulkBuffer
 * / processInlineBuffer), over one chunk: the caller re-feeds the unconsumed tail with more bytes
 * appended. The only state between calls is what the caller passes back: S_NEED, and the resume
 * point of an incomplete multibulk (S_RESUME_AT / S_RESUME_ARGS), so a huge command arriving in
 * many reads is framed once (its argument offsets once more when it completes): linear, not
 * quadratic. Nothing is allocated per command except on the rare quoted-inline path.
 *
 * Redis details kept on purpose:
 * - a command starting with '*' is multibulk, anything else is an inline line;
 * - `*0` / `*-N` and empty (or blank) inline lines are consumed without a command;
 * - a multibulk count above INT_MAX is invalid (7.0 allows up to INT_MAX, not 1024*1024);
 * - a length line ends at the first '\r' and Redis skips the byte after it unchecked; the two
 *   bytes after a bulk payload are skipped unchecked too;
 * - a NUL byte before the '\r' (or, inline, before the '\n') hides it, as strchr does, so
 *   such a line only ever ends in the "too big" error;
 * - numbers follow string2ll (no '+', no leading zeros, no "-0").
 * One deliberate difference: Redis's "too big" checks depend on how much it has read (they fire
 * only while no line end is buffered). Here a line is too big when more than maxInlineBytes
 * precede its end ('\r' for lengths, '\n' for inline lines, or the chunk end when absent), so
 * the result never depends on where the chunk was split.
 */
import {
  ARG_STRIDE, CMD_STRIDE, C_ARG0, C_ARGC, C_CMD, C_END, C_FLAGS, C_KEY0, C_NKEYS, C_SLOT, C_START,
  F_BAD_KEYS, F_INLINE, F_NEEDS_DECODE, KEY_STRIDE, ProtocolErrorCode, RequestBatch, SLOT_NONE,
  S_CONSUMED, S_ERROR, S_FULL, S_GROW_ARGS, S_NCMDS, S_NEED, S_RESUME_ARGS, S_RESUME_AT,
} from '../api';
import { CommandLookup } from './commandLookup';
import { BAD_KEYS, KeyExtractor } from './keyExtractor';
import { InlineTokens, splitInlineArgs } from './inline';
import { redisStringToNumber } from './numbers';

/**
 * status[S_ERROR_BYTE]: the byte Redis quotes in "expected '$', got '%c'" (extension of api.ts),
 * as Redis prints it: its error replies turn CR and LF into spaces.
 */
export { S_ERROR_BYTE } from '../api';
import { S_ERROR_BYTE } from '../api';

const INT_MAX = 0x7fffffff;

const LEN_OK = 0;
const LEN_INCOMPLETE = 1;
const LEN_INVALID = 2;
const LEN_TOO_BIG = 3;
const LEN_NOT_DOLLAR = 4;

const SCAN_DONE = 0;
const SCAN_INCOMPLETE = 1;
const SCAN_ERROR = 2;

export interface ParserLimits {
  maxBulkBytes: number;
  maxInlineBytes: number;
}

export class RequestParser {
  maxBulkBytes = 512 * 1024 * 1024;
  maxInlineBytes = 64 * 1024;
  private batch: RequestBatch | null = null;
  private lookup: CommandLookup | null = null;
  private extractor: KeyExtractor | null = null;

  // Out-values of readLength (fields, not objects, to stay allocation-free).
  private lenValue = 0;
  private lenNext = 0;
  private badByte = 0;
  // Out-values of scanBulks.
  private scanPos = 0;
  private scanArgc = 0;
  private scanNeed = 0;
  private scanError = 0;

  // Quoted inline lines are decoded into these (rare path).
  private readonly tokens: InlineTokens = { raw: [], decoded: [] };
  private scratchArgs = new Int32Array(64);

  setCommands(lookup: CommandLookup, extractor: KeyExtractor): void {
    this.lookup = lookup;
    this.extractor = extractor;
  }

  bind(batch: RequestBatch): void {
    this.batch = batch;
  }

  /**
   * Length line at lineStart ('*' count or '$' bulk length), Redis-exact. Sets lenValue and
   * lenNext (first byte after the line) on LEN_OK, badByte on LEN_NOT_DOLLAR.
   */
  private readLength(buf: Buffer, lineStart: number, end: number, bulk: boolean): number {
    // Fast path: 1..10 plain digits right before '\r', one byte after it available.
    if (!bulk || buf[lineStart] === 0x24) {
      let i = lineStart + 1;
      const c0 = buf[i];
      if (c0 >= 0x31 && c0 <= 0x39 && i < end) {
        let v = c0 - 0x30;
        i++;
        while (i < end) {
          const d = buf[i] - 0x30;
          if (d < 0 || d > 9) break;
          v = v * 10 + d;
          i++;
        }
        if (i + 1 < end && buf[i] === 0x0d && i - lineStart <= 11 && i - lineStart <= this.maxInlineBytes) {
          this.lenValue = v;
          this.lenNext = i + 2;
          return LEN_OK;
        }
      }
    }
    return this.readLengthSlow(buf, lineStart, end, bulk);
  }

  private readLengthSlow(buf: Buffer, lineStart: number, end: number, bulk: boolean): number {
    let r = lineStart;
    while (r < end && buf[r] !== 0x0d && buf[r] !== 0) r++;
    if (r >= end || buf[r] === 0) return end - lineStart > this.maxInlineBytes ? LEN_TOO_BIG : LEN_INCOMPLETE;
    if (r - lineStart > this.maxInlineBytes) return LEN_TOO_BIG;
    if (r + 2 > end) return LEN_INCOMPLETE;
    if (bulk && buf[lineStart] !== 0x24) {
      const bad = buf[lineStart];
      this.badByte = bad === 0x0d || bad === 0x0a ? 0x20 : bad;
      return LEN_NOT_DOLLAR;
    }
    const v = redisStringToNumber(buf, lineStart + 1, r);
    if (Number.isNaN(v)) return LEN_INVALID;
    this.lenValue = v;
    this.lenNext = r + 2;
    return LEN_OK;
  }

  /**
   * Frames `remaining` bulk arguments from `p` of the command at `start`, storing their offsets
   * at args[argBase + argc...] when `store`. SCAN_DONE: scanPos is past the last.
   * SCAN_INCOMPLETE: scanPos is at the first one not complete (scanNeed set when its header was
   * read). SCAN_ERROR: scanError set. scanArgc counts the arguments framed (from `argc`).
   */
  private scanBulks(chunk: Buffer, end: number, start: number, p: number, remaining: number, args: Int32Array | null, argBase: number, argc: number): number {
    let result = SCAN_DONE;
    while (remaining > 0) {
      const rc = this.readLength(chunk, p, end, true);
      if (rc !== LEN_OK) {
        // LEN_INCOMPLETE leaves need at 0: a malformed header shows after 2 more bytes.
        result = SCAN_ERROR;
        if (rc === LEN_TOO_BIG) this.scanError = ProtocolErrorCode.TooBigBulkCountString;
        else if (rc === LEN_NOT_DOLLAR) this.scanError = ProtocolErrorCode.ExpectedDollar;
        else if (rc === LEN_INVALID) this.scanError = ProtocolErrorCode.InvalidBulkLength;
        else result = SCAN_INCOMPLETE;
        break;
      }
      const len = this.lenValue;
      if (len < 0 || len > this.maxBulkBytes) {
        this.scanError = ProtocolErrorCode.InvalidBulkLength;
        result = SCAN_ERROR;
        break;
      }
      const payload = this.lenNext;
      const next = payload + len + 2;
      if (next > end) {
        this.scanNeed = next - start; // nothing can happen before this bulk is complete
        result = SCAN_INCOMPLETE;
        break;
      }
      if (args !== null) {
        args[(argBase + argc) * 2] = payload;
        args[(argBase + argc) * 2 + 1] = len;
      }
      argc++;
      remaining--;
      p = next;
    }
    this.scanPos = p;
    this.scanArgc = argc;
    return result;
  }

  /**
   * `resumeAt`/`resumeArgs`: the S_RESUME_AT / S_RESUME_ARGS of an earlier call that stopped in
   * the command now at `from` (same bytes, more appended); 0 = none.
   */
  parse(chunk: Buffer, from: number, resumeAt = 0, resumeArgs = 0): number {
    const batch = this.batch;
    const lookup = this.lookup;
    const extractor = this.extractor;
    if (batch === null || lookup === null || extractor === null) throw new Error('RequestParser: bindBatch and setCommandTable first');
    const cmds = batch.cmds;
    const args = batch.args;
    const keys = batch.keys;
    const status = batch.status;
    const end = chunk.length;
    const capCmds = (cmds.length / CMD_STRIDE) | 0;
    const capArgs = (args.length / ARG_STRIDE) | 0;
    const capKeys = (keys.length / KEY_STRIDE) | 0;
    const maxInline = this.maxInlineBytes;

    let pos = from;
    let ncmds = 0;
    let nargs = 0;
    let nkeys = 0;
    let error = 0;
    let need = 0;
    let full = 0;
    let grow = 0;
    let stopAt = 0; // resume point of an incomplete multibulk (from its start)
    let stopArgs = 0;
    this.scanNeed = 0;
    this.scanError = 0;

    outer: while (pos < end) {
      if (ncmds === capCmds) {
        full = 1;
        break;
      }
      const start = pos;
      const argBase = nargs;
      let argc = 0;
      let flags = 0;
      let cmdEnd: number;

      if (chunk[pos] === 0x2a /* * */) {
        const rc = this.readLength(chunk, pos, end, false);
        if (rc !== LEN_OK) {
          if (rc === LEN_TOO_BIG) error = ProtocolErrorCode.TooBigMbulkCountString;
          else if (rc === LEN_INVALID) error = ProtocolErrorCode.InvalidMultibulkLength;
          break;
        }
        const count = this.lenValue;
        if (count > INT_MAX) {
          error = ProtocolErrorCode.InvalidMultibulkLength;
          break;
        }
        pos = this.lenNext;
        if (count <= 0) continue; // Redis resets the client: no command
        const store = argBase + count <= capArgs;
        if (!store && ncmds > 0) {
          full = 1;
          pos = start;
          break;
        }
        if (resumeAt > 0 && start === from) {
          // Resumed: the arguments before resumeAt were framed by an earlier call; frame the
          // rest without storing, and only once the command is complete, all of it again.
          const at = start + resumeAt;
          if (at >= pos && at <= end && resumeArgs >= 0 && resumeArgs < count) {
            const rs = this.scanBulks(chunk, end, start, at, count - resumeArgs, null, 0, resumeArgs);
            if (rs !== SCAN_DONE) {
              if (rs === SCAN_INCOMPLETE) {
                stopAt = this.scanPos - start;
                stopArgs = this.scanArgc;
              }
              pos = start;
              break;
            }
            if (!store) {
              grow = count; // complete, and larger than the whole args array
              pos = start;
              break;
            }
          }
        }
        const rs = this.scanBulks(chunk, end, start, pos, count, store ? args : null, argBase, 0);
        if (rs !== SCAN_DONE) {
          if (rs === SCAN_INCOMPLETE) {
            stopAt = this.scanPos - start;
            stopArgs = this.scanArgc;
          }
          pos = start;
          break;
        }
        if (!store) {
          grow = count; // complete, and larger than the whole args array
          pos = start;
          break;
        }
        argc = this.scanArgc;
        const p = this.scanPos;
        cmdEnd = p;
      } else {
        // Inline: up to the first '\n' (a NUL hides it, as strchr would).
        let nl = pos;
        while (nl < end) {
          const c = chunk[nl];
          if (c === 0x0a || c === 0) break;
          nl++;
        }
        if (nl >= end || chunk[nl] === 0) {
          if (end - pos > maxInline) error = ProtocolErrorCode.TooBigInlineRequest;
          break;
        }
        if (nl - pos > maxInline) {
          error = ProtocolErrorCode.TooBigInlineRequest;
          break;
        }
        const lineEnd = nl > pos && chunk[nl - 1] === 0x0d ? nl - 1 : nl;
        cmdEnd = nl + 1;
        flags = F_INLINE;
        let p = pos;
        for (;;) {
          while (p < lineEnd) {
            const c = chunk[p];
            if (c !== 0x20 && (c < 0x09 || c > 0x0d)) break;
            p++;
          }
          if (p >= lineEnd) break;
          const tokenStart = p;
          while (p < lineEnd) {
            const c = chunk[p];
            if (c === 0x20 || c === 0x09 || c === 0x0d) break;
            if (c === 0x22 || c === 0x27) flags |= F_NEEDS_DECODE;
            p++;
          }
          if (flags & F_NEEDS_DECODE) break;
          if (argBase + argc < capArgs) {
            args[(argBase + argc) * 2] = tokenStart;
            args[(argBase + argc) * 2 + 1] = p - tokenStart;
          }
          argc++;
        }
        if (flags & F_NEEDS_DECODE) {
          if (!splitInlineArgs(chunk, pos, lineEnd, this.tokens)) {
            error = ProtocolErrorCode.UnbalancedQuotes;
            break;
          }
          const raw = this.tokens.raw;
          argc = raw.length >> 1;
          for (let a = 0; a < argc && argBase + a < capArgs; a++) {
            args[(argBase + a) * 2] = raw[a * 2];
            args[(argBase + a) * 2 + 1] = raw[a * 2 + 1] - raw[a * 2];
          }
        }
        if (argc === 0) {
          pos = cmdEnd; // empty line: Redis skips it
          continue;
        }
        if (argBase + argc > capArgs) {
          if (ncmds > 0) full = 1;
          else grow = argc;
          pos = start;
          break;
        }
      }

      // Command id (subcommand for containers) and keys.
      let kbuf: Uint8Array = chunk;
      let kargs = args;
      let kbase = argBase;
      if (flags & F_NEEDS_DECODE) {
        kbuf = this.decodedArgs();
        kargs = this.scratchArgs;
        kbase = 0;
      }
      const nameOff = kargs[kbase * 2];
      let id = lookup.find(kbuf, nameOff, nameOff + kargs[kbase * 2 + 1]);
      if (id >= 0 && argc > 1 && lookup.isContainer(id)) {
        const subOff = kargs[kbase * 2 + 2];
        const sub = lookup.findSub(id, kbuf, subOff, subOff + kargs[kbase * 2 + 3]);
        if (sub >= 0) id = sub;
      }
      let nk = 0;
      let slot = SLOT_NONE;
      if (id >= 0) {
        const room = capKeys - nkeys;
        const found = extractor.extract(id, kbuf, kargs, kbase, argc, keys, nkeys, room);
        if (found === BAD_KEYS) {
          flags |= F_BAD_KEYS;
        } else if (found > room) {
          if (ncmds > 0) full = 1;
          else grow = Math.max(argc, found);
          pos = start;
          break;
        } else {
          nk = found;
          slot = extractor.slot;
          if (kbase !== argBase) for (let k = nkeys; k < nkeys + nk; k++) keys[k * 2] += argBase;
        }
      }

      const c = ncmds * CMD_STRIDE;
      cmds[c + C_START] = start;
      cmds[c + C_END] = cmdEnd;
      cmds[c + C_ARGC] = argc;
      cmds[c + C_CMD] = id;
      cmds[c + C_ARG0] = argBase;
      cmds[c + C_KEY0] = nkeys;
      cmds[c + C_NKEYS] = nk;
      cmds[c + C_SLOT] = slot;
      cmds[c + C_FLAGS] = flags;
      ncmds++;
      nargs += argc;
      nkeys += nk;
      pos = cmdEnd;
    }

    error ||= this.scanError;
    need = this.scanNeed;
    status[S_NCMDS] = ncmds;
    status[S_CONSUMED] = pos - from;
    status[S_ERROR] = error;
    status[S_NEED] = need > end - pos ? Math.min(need, INT_MAX) : 0;
    status[S_FULL] = full;
    status[S_GROW_ARGS] = grow;
    status[S_ERROR_BYTE] = error === ProtocolErrorCode.ExpectedDollar ? this.badByte : 0;
    const resumable = error === 0 && full === 0 && grow === 0 && stopAt > 0;
    status[S_RESUME_AT] = resumable ? stopAt : 0;
    status[S_RESUME_ARGS] = resumable ? stopArgs : 0;
    return ncmds;
  }

  /** Decoded tokens of the last quoted inline line as one buffer + scratchArgs pairs. */
  private decodedArgs(): Buffer {
    const decoded = this.tokens.decoded;
    if (this.scratchArgs.length < decoded.length * 2) this.scratchArgs = new Int32Array(decoded.length * 2);
    let offset = 0;
    for (let a = 0; a < decoded.length; a++) {
      this.scratchArgs[a * 2] = offset;
      this.scratchArgs[a * 2 + 1] = decoded[a].length;
      offset += decoded[a].length;
    }
    return Buffer.concat(decoded, offset);
  }
}
