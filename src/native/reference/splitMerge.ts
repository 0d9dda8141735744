/**
 * Split of MGET / MSET / DEL / EXISTS / UNLINK / TOUCH into one sub-command per shard, and the
 * merge of the sub-replies (plan layout: PLAN_* in ../api.ts).
 *
 * Conventions both implementations follow (differential tests compare bytes):
 * - sub-commands are numbered in order of the first key of each shard in the client's order;
 * - each sub-command repeats the command name exactly as the client sent it and lists its keys
 *   (MSET: key and value) in client order, as RESP bulk strings;
 * - merge answers the first error sub-reply (in sub-command order) as is; a sub-reply of the
 *   wrong shape yields MERGE_UNEXPECTED_REPLY.
 */
import { MergeKind, PLAN_HEADER, PLAN_KEY_STRIDE, PLAN_SUB_STRIDE } from '../api';
import { FRAME_ERROR, FRAME_INCOMPLETE, ReplyFramer, parseInteger } from './replyFramer';

export const MERGE_UNEXPECTED_REPLY = Buffer.from('-ERR Proxy error: unexpected reply from a shard to a split command\r\n', 'latin1');
const OK_REPLY = Buffer.from('+OK\r\n', 'latin1');

export class SplitError extends Error {}

function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Writes the decimal n (>= 0) at pos; returns the position after it. */
function writeDecimal(out: Buffer, pos: number, n: number): number {
  const d = digits(n);
  for (let i = pos + d - 1; i >= pos; i--) {
    out[i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return pos + d;
}

/** "*n\r\n" or "$n\r\n" */
function writeHeader(out: Buffer, pos: number, type: number, n: number): number {
  out[pos] = type;
  pos = writeDecimal(out, pos + 1, n);
  out[pos] = 0x0d;
  out[pos + 1] = 0x0a;
  return pos + 2;
}

function bulkSize(len: number): number {
  return 1 + digits(len) + 2 + len + 2;
}

function writeBulk(out: Buffer, pos: number, src: Uint8Array, off: number, len: number): number {
  pos = writeHeader(out, pos, 0x24, len);
  out.set(src.subarray(off, off + len), pos);
  pos += len;
  out[pos] = 0x0d;
  out[pos + 1] = 0x0a;
  return pos + 2;
}

function isErrorReply(reply: Buffer): boolean {
  return reply.length > 0 && (reply[0] === 0x2d || reply[0] === 0x21);
}

export class SplitMerge {
  private shardToSub = new Int32Array(65536).fill(-1);
  private subShard = new Int32Array(16);
  private subKeys = new Int32Array(16);
  private subBytes = new Float64Array(16);
  private subCursor = new Int32Array(16);
  private elemStart = new Int32Array(64);
  private elemEnd = new Int32Array(64);
  private subElemBase = new Int32Array(16);

  constructor(private readonly framer: ReplyFramer) {}

  private ensureSubs(n: number): void {
    if (this.subShard.length >= n) return;
    const size = Math.max(n, this.subShard.length * 2);
    this.subShard = new Int32Array(size);
    this.subKeys = new Int32Array(size);
    this.subBytes = new Float64Array(size);
    this.subCursor = new Int32Array(size);
    this.subElemBase = new Int32Array(size);
  }

  /**
   * Split the command whose arguments are args[argBase .. argBase+argc) (pairs into buf) and whose
   * keys are keys[key0 .. key0+nkeys) ([absolute arg index, slot]; arg indexes are rebased by
   * keyArgShift for decoded inline arguments).
   */
  split(
    kind: MergeKind, buf: Uint8Array, args: Int32Array, argBase: number, argc: number,
    keys: Int32Array, key0: number, nkeys: number, keyArgShift: number, slotTable: Uint16Array, plan: Int32Array,
  ): Buffer {
    if (nkeys <= 0) throw new SplitError('split: the command has no keys');
    const pairs = kind === MergeKind.AllOk;
    if (pairs && argc !== 1 + 2 * nkeys) throw new SplitError('split: MSET needs key/value pairs');
    // Which sub-command each key goes to, and the byte size of each sub-command.
    let nsubs = 0;
    this.ensureSubs(Math.min(nkeys, 65536));
    const shardToSub = this.shardToSub;
    // First pass: the sub-command of each key and its position there, and each sub's size.
    const keySub = this.keySubScratch(nkeys);
    const keyPos = this.keyPosScratch(nkeys);
    for (let k = 0; k < nkeys; k++) {
      const rec = (key0 + k) * 2;
      const shard = slotTable[keys[rec + 1]];
      let sub = shardToSub[shard];
      if (sub < 0) {
        sub = nsubs++;
        shardToSub[shard] = sub;
        this.subShard[sub] = shard;
        this.subKeys[sub] = 0;
        this.subBytes[sub] = 0;
      }
      keySub[k] = sub;
      keyPos[k] = this.subKeys[sub]++;
      const arg = keys[rec] - keyArgShift;
      let bytes = bulkSize(args[arg * 2 + 1]);
      if (pairs) bytes += bulkSize(args[arg * 2 + 3]);
      this.subBytes[sub] += bytes;
    }
    for (let s = 0; s < nsubs; s++) shardToSub[this.subShard[s]] = -1;

    const total = PLAN_HEADER + nsubs * PLAN_SUB_STRIDE + nkeys * PLAN_KEY_STRIDE;
    if (plan.length < total) throw new SplitError(`split: plan array too small (${plan.length} < ${total})`);

    // Sub-command layout: header + name, then the keys.
    const nameOff = args[argBase * 2];
    const nameLen = args[argBase * 2 + 1];
    let size = 0;
    for (let s = 0; s < nsubs; s++) {
      const subArgc = 1 + (pairs ? 2 : 1) * this.subKeys[s];
      const start = size;
      size += 1 + digits(subArgc) + 2 + bulkSize(nameLen) + this.subBytes[s];
      const o = PLAN_HEADER + s * PLAN_SUB_STRIDE;
      plan[o] = this.subShard[s];
      plan[o + 1] = start;
      plan[o + 2] = size;
      plan[o + 3] = this.subKeys[s];
    }
    const out = Buffer.allocUnsafe(size);
    for (let s = 0; s < nsubs; s++) {
      const o = PLAN_HEADER + s * PLAN_SUB_STRIDE;
      let p = writeHeader(out, plan[o + 1], 0x2a, 1 + (pairs ? 2 : 1) * this.subKeys[s]);
      p = writeBulk(out, p, buf, nameOff, nameLen);
      this.subCursor[s] = p;
    }
    const keyBase = PLAN_HEADER + nsubs * PLAN_SUB_STRIDE;
    for (let k = 0; k < nkeys; k++) {
      const sub = keySub[k];
      const arg = keys[(key0 + k) * 2] - keyArgShift;
      let p = writeBulk(out, this.subCursor[sub], buf, args[arg * 2], args[arg * 2 + 1]);
      if (pairs) p = writeBulk(out, p, buf, args[arg * 2 + 2], args[arg * 2 + 3]);
      this.subCursor[sub] = p;
      plan[keyBase + k * PLAN_KEY_STRIDE] = sub;
      plan[keyBase + k * PLAN_KEY_STRIDE + 1] = keyPos[k];
    }
    plan[0] = nsubs;
    plan[1] = kind;
    plan[2] = nkeys;
    return out;
  }

  private keySubBuf = new Int32Array(64);
  private keyPosBuf = new Int32Array(64);
  private keySubScratch(n: number): Int32Array {
    if (this.keySubBuf.length < n) this.keySubBuf = new Int32Array(Math.max(n, this.keySubBuf.length * 2));
    return this.keySubBuf;
  }
  private keyPosScratch(n: number): Int32Array {
    if (this.keyPosBuf.length < n) this.keyPosBuf = new Int32Array(Math.max(n, this.keyPosBuf.length * 2));
    return this.keyPosBuf;
  }

  merge(plan: Int32Array, replies: Buffer[]): Buffer {
    const nsubs = plan[0];
    const kind = plan[1] as MergeKind;
    const nkeys = plan[2];
    if (replies.length < nsubs) return MERGE_UNEXPECTED_REPLY;
    for (let s = 0; s < nsubs; s++) if (isErrorReply(replies[s])) return replies[s];
    if (kind === MergeKind.Sum) {
      let sum = 0;
      for (let s = 0; s < nsubs; s++) {
        const r = replies[s];
        if (r.length < 4 || r[0] !== 0x3a || r[r.length - 2] !== 0x0d || r[r.length - 1] !== 0x0a) return MERGE_UNEXPECTED_REPLY;
        const n = parseInteger(r, 1, r.length - 2);
        if (Number.isNaN(n)) return MERGE_UNEXPECTED_REPLY;
        sum += n;
      }
      return Buffer.from(`:${sum}\r\n`, 'latin1');
    }
    if (kind === MergeKind.AllOk) {
      for (let s = 0; s < nsubs; s++) if (!replies[s].equals(OK_REPLY)) return MERGE_UNEXPECTED_REPLY;
      return Buffer.from(OK_REPLY);
    }
    if (kind !== MergeKind.Array) return MERGE_UNEXPECTED_REPLY;

    // Array: locate every element of every sub-reply, then copy them in client key order.
    if (this.elemStart.length < nkeys) {
      this.elemStart = new Int32Array(Math.max(nkeys, this.elemStart.length * 2));
      this.elemEnd = new Int32Array(this.elemStart.length);
    }
    this.ensureSubs(nsubs);
    let e = 0;
    let bodyBytes = 0;
    for (let s = 0; s < nsubs; s++) {
      const r = replies[s];
      const expected = plan[PLAN_HEADER + s * PLAN_SUB_STRIDE + 3];
      if (r.length < 4 || r[0] !== 0x2a) return MERGE_UNEXPECTED_REPLY;
      let p = 1;
      while (p < r.length && r[p] !== 0x0d) p++;
      if (parseInteger(r, 1, p) !== expected || p + 1 >= r.length || r[p + 1] !== 0x0a) return MERGE_UNEXPECTED_REPLY;
      p += 2;
      this.subElemBase[s] = e;
      for (let i = 0; i < expected; i++) {
        const next = this.framer.frameOne(r, p, r.length);
        if (next === FRAME_INCOMPLETE || next === FRAME_ERROR) return MERGE_UNEXPECTED_REPLY;
        this.elemStart[e] = p;
        this.elemEnd[e] = next;
        bodyBytes += next - p;
        e++;
        p = next;
      }
      if (p !== r.length) return MERGE_UNEXPECTED_REPLY;
    }
    if (e !== nkeys) return MERGE_UNEXPECTED_REPLY;
    const out = Buffer.allocUnsafe(1 + digits(nkeys) + 2 + bodyBytes);
    let p = writeHeader(out, 0, 0x2a, nkeys);
    const keyBase = PLAN_HEADER + nsubs * PLAN_SUB_STRIDE;
    for (let k = 0; k < nkeys; k++) {
      const sub = plan[keyBase + k * PLAN_KEY_STRIDE];
      const idx = this.subElemBase[sub] + plan[keyBase + k * PLAN_KEY_STRIDE + 1];
      const r = replies[sub];
      r.copy(out, p, this.elemStart[idx], this.elemEnd[idx]);
      p += this.elemEnd[idx] - this.elemStart[idx];
    }
    return out;
  }
}
