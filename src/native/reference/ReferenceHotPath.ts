/**
 * The pure-TypeScript HotPath: the oracle for differential tests against the C++ addon and the
 * fallback when the addon cannot load. Same contract (../api.ts), same bytes out.
 * Extensions both implementations provide (see the report / api.ts proposal):
 * - status[S_ERROR_BYTE] (6) holds the byte quoted by "expected '$', got '%c'";
 * - S_NEED: when the incomplete tail is inside a bulk whose header was read, the tail length at
 *   which that bulk (payload + 2 bytes) is complete; nothing (command or error) can happen before.
 *   Otherwise 0. A malformed header can always be reported after 2 more bytes, so no bound there.
 * - R_NEED: a lower bound for the incomplete reply: the end of the bulk being read (or the
 *   position reached) plus 3 bytes ("_\r\n") per value still owed after it.
 * - Both are 0 when the bound does not exceed what the chunk already holds.
 */
import {
  CMD_STRIDE, C_ARG0, C_ARGC, C_CMD, C_END, C_FLAGS, C_KEY0, C_NKEYS, C_START, CompiledCommandTable, F_NEEDS_DECODE,
  HotPath, MergeKind, R_STATUS_LEN, RequestBatch,
} from '../api';
import { CommandLookup } from './commandLookup';
import { SlotHasher } from './hash';
import { InlineTokens, splitInlineArgs } from './inline';
import { KeyExtractor } from './keyExtractor';
import { ReplyFramer } from './replyFramer';
import { RequestParser } from './requestParser';
import { SplitError, SplitMerge } from './splitMerge';

export { S_ERROR_BYTE } from './requestParser';
export { MERGE_UNEXPECTED_REPLY } from './splitMerge';

export class ReferenceHotPath implements HotPath {
  readonly nativeEnabled = false;
  private readonly hasher = new SlotHasher();
  private readonly parser = new RequestParser();
  private readonly framer = new ReplyFramer();
  private readonly splitter = new SplitMerge(this.framer);
  private lookup: CommandLookup | null = null;
  private batch: RequestBatch | null = null;
  private replyEnds: Int32Array = new Int32Array(0);
  private replyStatus: Int32Array = new Int32Array(R_STATUS_LEN);
  private plan: Int32Array = new Int32Array(0);
  private slotTable: Uint16Array | null = null;
  private readonly tokens: InlineTokens = { raw: [], decoded: [] };

  configure(options: { maxBulkBytes: number; maxInlineBytes: number; hash: 'crc16' | 'murmur'; murmurSeed: number }): void {
    this.parser.maxBulkBytes = options.maxBulkBytes;
    this.parser.maxInlineBytes = options.maxInlineBytes;
    this.hasher.configure(options.hash, options.murmurSeed);
  }

  setCommandTable(compiled: CompiledCommandTable): void {
    this.lookup = new CommandLookup(compiled);
    this.parser.setCommands(this.lookup, new KeyExtractor(compiled, this.hasher));
  }

  bindBatch(batch: RequestBatch, replyEnds: Int32Array, replyStatus: Int32Array, plan: Int32Array): void {
    this.batch = batch;
    this.parser.bind(batch);
    this.replyEnds = replyEnds;
    this.replyStatus = replyStatus;
    this.plan = plan;
  }

  bindSlotTable(table: Uint16Array): void {
    this.slotTable = table;
  }

  parseRequests(chunk: Buffer, from: number, end = chunk.length, resumeAt = 0, resumeArgs = 0, copyTo: Buffer | null = null, copyAt = 0): number {
    if (copyTo !== null) chunk.copy(copyTo, copyAt, from, end);
    return this.parser.parse(end === chunk.length ? chunk : chunk.subarray(0, end), from, resumeAt, resumeArgs);
  }

  frameReplies(chunk: Buffer, from: number, end = chunk.length, resumeAt = 0, resumeOwed = 0): number {
    return this.framer.frame(end === chunk.length ? chunk : chunk.subarray(0, end), from, this.replyEnds, this.replyStatus, resumeAt, resumeOwed);
  }

  copyBytes(dst: Buffer, at: number, src: Buffer, start: number, end: number): void {
    src.copy(dst, at, start, end);
  }

  split(chunk: Buffer, cmdIndex: number): Buffer {
    const batch = this.batch;
    const lookup = this.lookup;
    if (batch === null || lookup === null || this.slotTable === null) throw new SplitError('split: bindBatch, bindSlotTable and setCommandTable first');
    const c = cmdIndex * CMD_STRIDE;
    const id = batch.cmds[c + C_CMD];
    const kind = id >= 0 ? (lookup.mergeKind[id] as MergeKind | 0) : 0;
    if (kind === 0) throw new SplitError(`split: command ${id} is not a split command`);
    const argc = batch.cmds[c + C_ARGC];
    const argBase = batch.cmds[c + C_ARG0];
    const key0 = batch.cmds[c + C_KEY0];
    const nkeys = batch.cmds[c + C_NKEYS];
    if (batch.cmds[c + C_FLAGS] & F_NEEDS_DECODE) {
      // Quoted inline command: split the decoded arguments (rare path).
      const start = batch.cmds[c + C_START];
      let lineEnd = batch.cmds[c + C_END] - 1;
      if (lineEnd > start && chunk[lineEnd - 1] === 0x0d) lineEnd--;
      if (!splitInlineArgs(chunk, start, lineEnd, this.tokens)) throw new SplitError('split: unbalanced quotes');
      const decoded = this.tokens.decoded;
      const args = new Int32Array(decoded.length * 2);
      let offset = 0;
      decoded.forEach((d, i) => {
        args[i * 2] = offset;
        args[i * 2 + 1] = d.length;
        offset += d.length;
      });
      return this.splitter.split(kind, Buffer.concat(decoded, offset), args, 0, argc, batch.keys, key0, nkeys, argBase, this.slotTable, this.plan);
    }
    return this.splitter.split(kind, chunk, batch.args, argBase, argc, batch.keys, key0, nkeys, 0, this.slotTable, this.plan);
  }

  merge(plan: Int32Array, replies: Buffer[]): Buffer {
    return this.splitter.merge(plan, replies);
  }

  mergeStore(plan: Int32Array, store: Buffer, spans: Int32Array): Buffer {
    const n = Math.max(0, Math.min(plan[0], spans.length >> 1));
    const replies: Buffer[] = [];
    for (let s = 0; s < n; s++) replies.push(store.subarray(spans[2 * s], spans[2 * s + 1]));
    return this.splitter.merge(plan, replies);
  }

  keySlot(key: Buffer): number {
    return this.hasher.slot(key, 0, key.length);
  }

  commandInfo(id: number): [number, number] | null {
    const table = this.lookup?.table;
    if (!table || !(id >= 0 && id < table.names.length)) return null;
    return [table.routing[id], this.lookup!.mergeKind[id]];
  }

  decodeInline(line: Buffer): Buffer[] | null {
    const tokens: InlineTokens = { raw: [], decoded: [] };
    return splitInlineArgs(line, 0, line.length, tokens) ? tokens.decoded : null;
  }
}
