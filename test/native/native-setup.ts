/**
 * Shared setup for the native tests: an engine (native or reference) with its typed arrays bound,
 * and a stream driver that feeds chunks the way the proxy does (keep the unconsumed tail, call
 * again on S_FULL, grow and re-bind on S_GROW_ARGS) while recording every call's raw outputs,
 * so two engines can be compared call by call.
 */
import {
  ARG_STRIDE, CMD_STRIDE, C_ARG0, C_ARGC, C_KEY0, C_NKEYS, HotPath, KEY_STRIDE, R_CONSUMED, R_COUNT, R_ERROR, R_RESUME_AT, R_RESUME_OWED,
  R_STATUS_LEN, RequestBatch, S_CONSUMED, S_ERROR, S_FULL, S_GROW_ARGS, S_RESUME_ARGS, S_RESUME_AT, STATUS_LEN,
} from '../../src/native/api';
import { compileForNative } from '../../src/commands/table';
import { NativeHotPath } from '../../src/native/NativeHotPath';
import { ReferenceHotPath } from '../../src/native/reference/ReferenceHotPath';

export interface EngineOptions {
  cmds?: number;
  args?: number;
  keys?: number;
  replyEnds?: number;
  plan?: number;
  maxBulkBytes?: number;
  maxInlineBytes?: number;
  hash?: 'crc16' | 'murmur';
  murmurSeed?: number;
  shards?: number;
}

export interface Engine {
  hp: HotPath;
  batch: RequestBatch;
  replyEnds: Int32Array;
  replyStatus: Int32Array;
  plan: Int32Array;
  slotTable: Uint16Array;
  rebind(args: number, keys: number): void;
}

const compiled = compileForNative();

export function makeEngine(hp: HotPath, o: EngineOptions = {}): Engine {
  hp.configure({
    maxBulkBytes: o.maxBulkBytes ?? 512 * 1024 * 1024,
    maxInlineBytes: o.maxInlineBytes ?? 64 * 1024,
    hash: o.hash ?? 'crc16',
    murmurSeed: o.murmurSeed ?? 0,
  });
  hp.setCommandTable(compiled);
  const slotTable = new Uint16Array(16384);
  const shards = o.shards ?? 3;
  for (let s = 0; s < 16384; s++) slotTable[s] = Math.floor((s * shards) / 16384);
  hp.bindSlotTable(slotTable);
  const engine: Engine = {
    hp,
    batch: {
      cmds: new Int32Array(CMD_STRIDE * (o.cmds ?? 256)),
      args: new Int32Array(ARG_STRIDE * (o.args ?? 1024)),
      keys: new Int32Array(KEY_STRIDE * (o.keys ?? 1024)),
      status: new Int32Array(STATUS_LEN),
    },
    replyEnds: new Int32Array(o.replyEnds ?? 256),
    replyStatus: new Int32Array(R_STATUS_LEN),
    plan: new Int32Array(o.plan ?? 4096),
    slotTable,
    rebind(args: number, keys: number) {
      engine.batch = { ...engine.batch, args: new Int32Array(ARG_STRIDE * args), keys: new Int32Array(KEY_STRIDE * keys) };
      hp.bindBatch(engine.batch, engine.replyEnds, engine.replyStatus, engine.plan);
    },
  };
  hp.bindBatch(engine.batch, engine.replyEnds, engine.replyStatus, engine.plan);
  return engine;
}

export const nativeEngine = (o?: EngineOptions) => makeEngine(new NativeHotPath(), o);
export const referenceEngine = (o?: EngineOptions) => makeEngine(new ReferenceHotPath(), o);

/** One parse call's raw outputs: status (all fields) and the filled parts of the arrays. */
export interface ParseCall {
  from: number;
  status: number[];
  cmds: number[];
  args: number[];
  keys: number[];
}

export interface ParsedCommand {
  start: number;
  end: number;
  argc: number;
  cmd: number;
  args: Buffer[];
  keys: Array<[number, number]>;
  slot: number;
  flags: number;
}

export interface StreamResult {
  calls: ParseCall[];
  commands: ParsedCommand[];
  error: number;
  errorByte: number;
  consumed: number;
}

/**
 * Feeds `pieces` in order; the stream buffer grows with each piece and parsing restarts at the
 * consumed offset (absolute offsets, `from` > 0), passing back the resume point of an incomplete
 * command as the proxy does (unless `resume` is false). Stops at the first protocol error.
 */
export function runRequests(e: Engine, pieces: Buffer[], onCommand?: (buf: Buffer, index: number) => void, resume = true): StreamResult {
  let buf = Buffer.alloc(0);
  let from = 0;
  let resumeAt = 0;
  let resumeArgs = 0;
  const out: StreamResult = { calls: [], commands: [], error: 0, errorByte: 0, consumed: 0 };
  for (const piece of pieces) {
    buf = Buffer.concat([buf, piece]);
    for (let guard = 0; guard < 100000; guard++) {
      const n = resume ? e.hp.parseRequests(buf, from, buf.length, resumeAt, resumeArgs) : e.hp.parseRequests(buf, from);
      const { cmds, args, keys, status } = e.batch;
      let nargs = 0;
      let nkeys = 0;
      for (let i = 0; i < n; i++) {
        const c = i * CMD_STRIDE;
        nargs = Math.max(nargs, cmds[c + C_ARG0] + cmds[c + C_ARGC]);
        nkeys = Math.max(nkeys, cmds[c + C_KEY0] + cmds[c + C_NKEYS]);
      }
      out.calls.push({
        from,
        status: Array.from(status.subarray(0, STATUS_LEN)),
        cmds: Array.from(cmds.subarray(0, n * CMD_STRIDE)),
        args: Array.from(args.subarray(0, nargs * 2)),
        keys: Array.from(keys.subarray(0, nkeys * 2)),
      });
      for (let i = 0; i < n; i++) {
        const c = cmds.subarray(i * CMD_STRIDE, (i + 1) * CMD_STRIDE);
        const argv: Buffer[] = [];
        for (let a = 0; a < c[2]; a++) argv.push(Buffer.from(buf.subarray(args[(c[4] + a) * 2], args[(c[4] + a) * 2] + args[(c[4] + a) * 2 + 1])));
        const ks: Array<[number, number]> = [];
        for (let k = 0; k < c[6]; k++) ks.push([keys[(c[5] + k) * 2] - c[4], keys[(c[5] + k) * 2 + 1]]);
        out.commands.push({ start: c[0], end: c[1], argc: c[2], cmd: c[3], args: argv, keys: ks, slot: c[7], flags: c[8] });
        onCommand?.(buf, i);
      }
      from += status[S_CONSUMED];
      resumeAt = status[S_RESUME_AT];
      resumeArgs = status[S_RESUME_ARGS];
      if (status[S_ERROR]) {
        out.error = status[S_ERROR];
        out.errorByte = status[6];
        out.consumed = from;
        return out;
      }
      if (status[S_GROW_ARGS] > 0) {
        e.rebind(status[S_GROW_ARGS], Math.max(status[S_GROW_ARGS], e.batch.keys.length / KEY_STRIDE));
        continue;
      }
      if (status[S_FULL]) continue;
      break;
    }
  }
  out.consumed = from;
  return out;
}

export interface ReplyCall {
  from: number;
  status: number[];
  ends: number[];
}

/**
 * Feeds reply pieces like a backend connection (resuming an incomplete reply where the last call
 * stopped, unless `resume` is false); records every frameReplies call.
 */
export function runReplies(e: Engine, pieces: Buffer[], resume = true): { calls: ReplyCall[]; ends: number[]; error: number } {
  let buf = Buffer.alloc(0);
  let from = 0;
  let resumeAt = 0;
  let resumeOwed = 0;
  const calls: ReplyCall[] = [];
  const ends: number[] = [];
  for (const piece of pieces) {
    buf = Buffer.concat([buf, piece]);
    for (;;) {
      const n = resume ? e.hp.frameReplies(buf, from, buf.length, resumeAt, resumeOwed) : e.hp.frameReplies(buf, from);
      const st = e.replyStatus;
      calls.push({ from, status: Array.from(st), ends: Array.from(e.replyEnds.subarray(0, n)) });
      ends.push(...e.replyEnds.subarray(0, n));
      from += st[R_CONSUMED];
      resumeAt = st[R_RESUME_AT];
      resumeOwed = st[R_RESUME_OWED];
      if (st[R_ERROR]) return { calls, ends, error: 1 };
      if (st[R_COUNT] === e.replyEnds.length && from < buf.length) continue;
      break;
    }
  }
  return { calls, ends, error: 0 };
}

/** Cuts `data` at the given offsets (any order, duplicates allowed). */
export function cut(data: Buffer, points: number[]): Buffer[] {
  const sorted = [...new Set(points.map((p) => Math.max(0, Math.min(data.length, p))))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let prev = 0;
  for (const p of sorted) {
    pieces.push(data.subarray(prev, p));
    prev = p;
  }
  pieces.push(data.subarray(prev));
  return pieces;
}

export function resp(...args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

export { S_FULL };
