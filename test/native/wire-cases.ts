/**
 * Raw wire-string tables for the HotPath contract (src/native/api.ts), shared by the tests of
 * both implementations (TypeScript reference and C++ addon): `runWireCases(t, hotPath)` and
 * `runReplyCases(t, hotPath)` check every case unsplit, at every split point and byte by byte,
 * feeding chunks the way the proxy does (the unconsumed tail is re-fed with the next bytes).
 *
 * Expected slots come from an independent bitwise CRC16 here (`oracleSlot`), expected command
 * ids from the command table by name; error texts are Redis 7.0's, checked against a real
 * redis-server in reference.redis.test.ts.
 */
import type { ExecutionContext } from 'ava';
import {
  CMD_STRIDE, C_ARG0, C_ARGC, C_CMD, C_END, C_FLAGS, C_KEY0, C_NKEYS, C_SLOT, C_START, CMD_UNKNOWN,
  F_BAD_KEYS, F_INLINE, F_NEEDS_DECODE, HotPath, ProtocolErrorCode, R_CONSUMED, R_COUNT, R_ERROR, R_NEED,
  R_STATUS_LEN, RequestBatch, SLOT_CROSS, SLOT_NONE, STATUS_LEN, S_CONSUMED, S_ERROR, S_FULL, S_GROW_ARGS,
  S_NCMDS, S_NEED, protocolErrorText,
} from '../../src/native/api';
import fc from 'fast-check';
import { commandId, compileForNative } from '../../src/commands/table';

/** status[6]: the byte quoted by "expected '$', got '%c'" (extension both implementations fill). */
export const S_ERROR_BYTE = 6;

export interface HotPathOptions {
  maxBulkBytes: number;
  maxInlineBytes: number;
  hash: 'crc16' | 'murmur';
  murmurSeed: number;
}

export const DEFAULT_OPTIONS: HotPathOptions = {
  maxBulkBytes: 512 * 1024 * 1024,
  maxInlineBytes: 64 * 1024,
  hash: 'crc16',
  murmurSeed: 0,
};

/* ---------- independent oracles ---------- */

/** CRC16-XMODEM, bit by bit (deliberately not the table-driven code under test). */
export function oracleCrc16(key: Buffer): number {
  let crc = 0;
  for (const byte of key) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** Redis Cluster's keyHashSlot, restated from its documentation. */
export function oracleSlot(key: Buffer): number {
  const open = key.indexOf(0x7b);
  if (open >= 0) {
    const close = key.indexOf(0x7d, open + 1);
    if (close > open + 1) return oracleCrc16(key.subarray(open + 1, close)) & 16383;
  }
  return oracleCrc16(key) & 16383;
}

/* ---------- cases ---------- */

export interface ExpectedCommand {
  args: string[]; // latin1, decoded
  /** Table name (`get`, `object|encoding`) or null for an unknown command. */
  name: string | null;
  keys?: string[];
  inline?: boolean;
  decode?: boolean; // F_NEEDS_DECODE
  badKeys?: boolean;
}

export interface WireCase {
  name: string;
  wire: string | Buffer; // strings are latin1
  commands: ExpectedCommand[];
  /** Exact Redis error text after the commands, if the wire breaks the protocol there. */
  error?: string;
  /** Bytes left over (an incomplete command at the end). */
  rest?: number;
  /** Expected S_NEED for the left-over tail when fed whole (0 = unknown). */
  need?: number;
  options?: Partial<HotPathOptions>;
  /** Whether a real redis-server (default config) must answer the wire with `error`. */
  redis?: boolean;
}

const mb = (...args: string[]): string => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`).join('')}`;
const big = (n: number, ch = 'a'): string => ch.repeat(n);

export const ERR = {
  multibulk: protocolErrorText(ProtocolErrorCode.InvalidMultibulkLength, 0),
  bulk: protocolErrorText(ProtocolErrorCode.InvalidBulkLength, 0),
  // Redis's error replies print CR and LF as spaces.
  dollar: (c: string) => protocolErrorText(ProtocolErrorCode.ExpectedDollar, c === '\r' || c === '\n' ? 0x20 : c.charCodeAt(0)),
  quotes: protocolErrorText(ProtocolErrorCode.UnbalancedQuotes, 0),
  inline: protocolErrorText(ProtocolErrorCode.TooBigInlineRequest, 0),
  mbulkCount: protocolErrorText(ProtocolErrorCode.TooBigMbulkCountString, 0),
  bulkCount: protocolErrorText(ProtocolErrorCode.TooBigBulkCountString, 0),
};

export const WIRE_CASES: WireCase[] = [
  // --- well-formed multibulk ---
  { name: 'GET', wire: mb('GET', 'foo'), commands: [{ args: ['GET', 'foo'], name: 'get', keys: ['foo'] }] },
  {
    name: 'pipeline SET GET DEL',
    wire: mb('SET', 'k1', 'v1') + mb('GET', 'k1') + mb('DEL', 'a', 'b', '{a}c'),
    commands: [
      { args: ['SET', 'k1', 'v1'], name: 'set', keys: ['k1'] },
      { args: ['GET', 'k1'], name: 'get', keys: ['k1'] },
      { args: ['DEL', 'a', 'b', '{a}c'], name: 'del', keys: ['a', 'b', '{a}c'] },
    ],
  },
  { name: 'mixed-case name', wire: mb('gEt', 'K'), commands: [{ args: ['gEt', 'K'], name: 'get', keys: ['K'] }] },
  { name: 'hash tags share a slot', wire: mb('MGET', '{user1}:a', '{user1}:b'), commands: [{ args: ['MGET', '{user1}:a', '{user1}:b'], name: 'mget', keys: ['{user1}:a', '{user1}:b'] }] },
  { name: 'MSET pairs', wire: mb('MSET', 'k1', 'v1', 'k2', 'v2'), commands: [{ args: ['MSET', 'k1', 'v1', 'k2', 'v2'], name: 'mset', keys: ['k1', 'k2'] }] },
  { name: 'EXISTS repeated key', wire: mb('EXISTS', 'k', 'k', 'k'), commands: [{ args: ['EXISTS', 'k', 'k', 'k'], name: 'exists', keys: ['k', 'k', 'k'] }] },
  { name: 'binary payload with CRLF inside', wire: '*2\r\n$3\r\nGET\r\n$4\r\na\r\nb\r\n', commands: [{ args: ['GET', 'a\r\nb'], name: 'get', keys: ['a\r\nb'] }] },
  { name: 'binary key bytes', wire: Buffer.concat([Buffer.from('*2\r\n$3\r\nGET\r\n$5\r\n'), Buffer.from([0, 0xff, 0x7b, 0x80, 0x7d]), Buffer.from('\r\n')]), commands: [{ args: ['GET', '\u0000\u00ff{\u0080}'], name: 'get', keys: ['\u0000\u00ff{\u0080}'] }] },
  { name: 'empty bulk', wire: mb('GET', ''), commands: [{ args: ['GET', ''], name: 'get', keys: [''] }] },
  { name: 'bytes after a payload are skipped unchecked', wire: '*1\r\n$4\r\nPINGxy', commands: [{ args: ['PING'], name: 'ping' }], redis: false },
  { name: 'byte after a length CR is skipped unchecked', wire: '*1\rX$4\r\nPING\r\n', commands: [{ args: ['PING'], name: 'ping' }] },
  { name: '*0 *-1 *-10 are skipped', wire: '*0\r\n*-1\r\n*-10\r\n' + mb('PING'), commands: [{ args: ['PING'], name: 'ping' }] },
  { name: 'unknown command', wire: mb('FOOBAR', 'x'), commands: [{ args: ['FOOBAR', 'x'], name: null }] },
  { name: 'bulk at maxBulkBytes', wire: mb('GET', big(10)), commands: [{ args: ['GET', big(10)], name: 'get', keys: [big(10)] }], options: { maxBulkBytes: 10 } },

  // --- key specs ---
  { name: 'container OBJECT ENCODING', wire: mb('OBJECT', 'ENCODING', 'k'), commands: [{ args: ['OBJECT', 'ENCODING', 'k'], name: 'object|encoding', keys: ['k'] }] },
  { name: 'container lowercase sub', wire: mb('object', 'freq', 'k'), commands: [{ args: ['object', 'freq', 'k'], name: 'object|freq', keys: ['k'] }] },
  { name: 'container XINFO STREAM', wire: mb('XINFO', 'STREAM', 's'), commands: [{ args: ['XINFO', 'STREAM', 's'], name: 'xinfo|stream', keys: ['s'] }] },
  { name: 'container MEMORY USAGE', wire: mb('MEMORY', 'USAGE', 'k'), commands: [{ args: ['MEMORY', 'USAGE', 'k'], name: 'memory|usage', keys: ['k'] }] },
  { name: 'container unknown subcommand', wire: mb('OBJECT', 'NOPE', 'k'), commands: [{ args: ['OBJECT', 'NOPE', 'k'], name: 'object' }] },
  { name: 'container alone', wire: mb('OBJECT'), commands: [{ args: ['OBJECT'], name: 'object' }] },
  { name: 'EVAL keynum', wire: mb('EVAL', 'return 1', '2', '{t}a', '{t}b', 'argv'), commands: [{ args: ['EVAL', 'return 1', '2', '{t}a', '{t}b', 'argv'], name: 'eval', keys: ['{t}a', '{t}b'] }] },
  { name: 'EVAL zero keys', wire: mb('EVAL', 'return 1', '0'), commands: [{ args: ['EVAL', 'return 1', '0'], name: 'eval', keys: [] }] },
  { name: 'EVAL bad numkeys', wire: mb('EVAL', 's', 'x'), commands: [{ args: ['EVAL', 's', 'x'], name: 'eval', badKeys: true }] },
  { name: 'EVAL numkeys beyond args', wire: mb('EVAL', 's', '5', 'k'), commands: [{ args: ['EVAL', 's', '5', 'k'], name: 'eval', badKeys: true }] },
  { name: 'EVAL negative numkeys', wire: mb('EVAL', 's', '-1', 'k'), commands: [{ args: ['EVAL', 's', '-1', 'k'], name: 'eval', badKeys: true }] },
  { name: 'XREAD keyword', wire: mb('XREAD', 'COUNT', '2', 'STREAMS', 's1', 's2', '0', '0'), commands: [{ args: ['XREAD', 'COUNT', '2', 'STREAMS', 's1', 's2', '0', '0'], name: 'xread', keys: ['s1', 's2'] }] },
  { name: 'XREAD keyword any case', wire: mb('xread', 'streams', 's', '0'), commands: [{ args: ['xread', 'streams', 's', '0'], name: 'xread', keys: ['s'] }] },
  { name: 'XREAD keyword missing', wire: mb('XREAD', 'COUNT', '2'), commands: [{ args: ['XREAD', 'COUNT', '2'], name: 'xread', keys: [] }] },
  { name: 'GET without key', wire: mb('GET'), commands: [{ args: ['GET'], name: 'get', badKeys: true }] },
  { name: 'no-key command', wire: mb('PING'), commands: [{ args: ['PING'], name: 'ping' }] },

  // --- inline ---
  { name: 'inline PING', wire: 'PING\r\n', commands: [{ args: ['PING'], name: 'ping', inline: true }] },
  { name: 'inline LF only', wire: 'SET foo bar\nGET foo\n', commands: [{ args: ['SET', 'foo', 'bar'], name: 'set', keys: ['foo'], inline: true }, { args: ['GET', 'foo'], name: 'get', keys: ['foo'], inline: true }] },
  { name: 'inline blanks', wire: '  GET \t  foo  \r\n', commands: [{ args: ['GET', 'foo'], name: 'get', keys: ['foo'], inline: true }] },
  { name: 'empty and blank lines skipped', wire: '\r\n\n   \r\nPING\r\n', commands: [{ args: ['PING'], name: 'ping', inline: true }] },
  { name: 'inline CR inside a line splits', wire: 'GET\rfoo\r\n', commands: [{ args: ['GET', 'foo'], name: 'get', keys: ['foo'], inline: true }] },
  { name: 'inline VT is not a separator inside a token', wire: 'GET\u000bfoo\r\n\u000bPING\r\n', commands: [{ args: ['GET\u000bfoo'], name: null, inline: true }, { args: ['PING'], name: 'ping', inline: true }] },
  { name: 'inline quotes', wire: 'SET "a b" \'c\\\'d\'\r\n', commands: [{ args: ['SET', 'a b', "c'd"], name: 'set', keys: ['a b'], inline: true, decode: true }] },
  { name: 'inline escapes', wire: 'ECHO "\\x41\\x4a\\n\\r\\t\\b\\a\\\\\\"\\q\\xZZ"\r\n', commands: [{ args: ['ECHO', 'AJ\n\r\t\b\u0007\\"qxZZ'], name: 'echo', inline: true, decode: true }] },
  { name: 'inline single quotes keep backslashes', wire: "ECHO 'a\\nb'\r\n", commands: [{ args: ['ECHO', 'a\\nb'], name: 'echo', inline: true, decode: true }] },
  { name: 'inline quote inside a token', wire: 'SET foo"bar baz" x\r\n', commands: [{ args: ['SET', 'foobar baz', 'x'], name: 'set', keys: ['foobar baz'], inline: true, decode: true }] },
  { name: 'inline empty quoted arg', wire: 'GET ""\r\n', commands: [{ args: ['GET', ''], name: 'get', keys: [''], inline: true, decode: true }] },
  { name: 'inline quoted command name', wire: '"mget" "{x}1" {x}2\r\n', commands: [{ args: ['mget', '{x}1', '{x}2'], name: 'mget', keys: ['{x}1', '{x}2'], inline: true, decode: true }] },
  { name: 'inline then multibulk', wire: 'PING\r\n' + mb('GET', 'k') + 'PING\n', commands: [{ args: ['PING'], name: 'ping', inline: true }, { args: ['GET', 'k'], name: 'get', keys: ['k'] }, { args: ['PING'], name: 'ping', inline: true }] },
  { name: 'inline line at maxInlineBytes', wire: `GET ${big(12)}\r\n`, commands: [{ args: ['GET', big(12)], name: 'get', keys: [big(12)], inline: true }], options: { maxInlineBytes: 17 } },
  { name: 'inline starting with $', wire: '$3\r\n', commands: [{ args: ['$3'], name: null, inline: true }] },

  // --- incomplete tails ---
  { name: 'incomplete inside last bulk', wire: mb('GET', 'k') + '*2\r\n$3\r\nGET\r\n$5\r\nab', commands: [{ args: ['GET', 'k'], name: 'get', keys: ['k'] }], rest: 19, need: 24 },
  { name: 'incomplete inside a middle bulk', wire: '*3\r\n$3\r\nSET\r\n$10\r\nabc', commands: [], rest: 21, need: 30 },
  { name: 'incomplete count line', wire: '*3\r', commands: [], rest: 3, need: 0 },
  { name: 'incomplete header', wire: '*2\r\n$3\r\nGET\r\n$1', commands: [], rest: 15, need: 0 },
  { name: 'incomplete inline', wire: 'PING', commands: [], rest: 4, need: 0 },
  { name: 'NUL hides the CR (Redis waits)', wire: '*1\u0000\r\n$4\r\nPING\r\n', commands: [], rest: 15, need: 0 },
  { name: 'NUL hides the LF inline (Redis waits)', wire: 'PI\u0000NG\r\nPING\r\n', commands: [], rest: 13, need: 0 },

  // --- protocol errors (exact Redis texts) ---
  { name: 'multibulk count not a number', wire: '*abc\r\n', commands: [], error: ERR.multibulk, redis: true },
  { name: 'multibulk count above INT_MAX', wire: '*2147483648\r\n', commands: [], error: ERR.multibulk, redis: true },
  { name: 'multibulk count -0', wire: '*-0\r\n', commands: [], error: ERR.multibulk, redis: true },
  { name: 'multibulk count leading zero', wire: '*01\r\n', commands: [], error: ERR.multibulk, redis: true },
  { name: 'multibulk count plus sign', wire: '*+1\r\n', commands: [], error: ERR.multibulk, redis: true },
  { name: 'multibulk count empty', wire: '*\r\n', commands: [], error: ERR.multibulk, redis: true },
  { name: 'multibulk count overflows int64', wire: '*-9223372036854775809\r\n', commands: [], error: ERR.multibulk, redis: true },
  { name: 'bulk length negative', wire: '*1\r\n$-1\r\n', commands: [], error: ERR.bulk, redis: true },
  { name: 'bulk length not a number', wire: '*1\r\n$abc\r\n', commands: [], error: ERR.bulk, redis: true },
  { name: 'bulk length leading zero', wire: '*1\r\n$04\r\nPING\r\n', commands: [], error: ERR.bulk, redis: true },
  { name: 'bulk length above proto-max-bulk-len', wire: '*1\r\n$536870913\r\n', commands: [], error: ERR.bulk, redis: true },
  { name: 'bulk length above maxBulkBytes', wire: mb('GET', big(11)), commands: [], error: ERR.bulk, options: { maxBulkBytes: 10 } },
  { name: "expected '$'", wire: '*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n', commands: [], error: ERR.dollar('f'), redis: true },
  { name: "expected '$', got CR", wire: '*1\r\n\r\n', commands: [], error: ERR.dollar('\r'), redis: true },
  { name: "expected '$', got LF", wire: '*1\r\n\n\r\n', commands: [], error: ERR.dollar('\n'), redis: true },
  { name: "expected '$', got a high byte", wire: '*1\r\n\u00e9\r\n', commands: [], error: ERR.dollar('\u00e9'), redis: true },
  { name: 'error after good commands', wire: 'PING\r\n' + mb('GET', 'k') + '*1\r\n:1\r\n', commands: [{ args: ['PING'], name: 'ping', inline: true }, { args: ['GET', 'k'], name: 'get', keys: ['k'] }], error: ERR.dollar(':'), redis: true },
  { name: 'unbalanced double quote', wire: 'PING "a\r\n', commands: [], error: ERR.quotes, redis: true },
  { name: 'unbalanced single quote', wire: "PING 'a\r\n", commands: [], error: ERR.quotes, redis: true },
  { name: 'closing quote followed by a byte', wire: 'PING "a"b\r\n', commands: [], error: ERR.quotes, redis: true },
  { name: 'lone quote', wire: '"\r\n', commands: [], error: ERR.quotes, redis: true },
  { name: 'backslash at end of quoted', wire: 'PING "a\\\r\n', commands: [], error: ERR.quotes, redis: true },
  { name: 'too big inline request (no newline)', wire: big(65537, 'A'), commands: [], error: ERR.inline, redis: true },
  { name: 'too big inline request (small limit)', wire: `GET ${big(13)}\r\n`, commands: [], error: ERR.inline, options: { maxInlineBytes: 17 } },
  { name: 'too big inline with NUL', wire: 'PI\u0000NG\r\n' + big(65536, 'x'), commands: [], error: ERR.inline, redis: true },
  { name: 'too big mbulk count string', wire: '*' + big(65537, '1'), commands: [], error: ERR.mbulkCount, redis: true },
  { name: 'too big mbulk count string (NUL)', wire: '*1\u0000' + big(65536, 'x'), commands: [], error: ERR.mbulkCount, redis: true },
  { name: 'too big bulk count string', wire: '*1\r\n$' + big(65537, '1'), commands: [], error: ERR.bulkCount, redis: true },
  { name: 'too big bulk count string (small limit)', wire: '*1\r\n$' + big(20, '1') + '\r\n', commands: [], error: ERR.bulkCount, options: { maxInlineBytes: 16 } },
  { name: 'length line at the limit', wire: '*1\r\n$' + big(14, '0') + '\r\n', commands: [], error: ERR.bulk, options: { maxInlineBytes: 16 } },
];

/* ---------- feeding like the proxy ---------- */

export interface ParsedCommand {
  raw: string;
  args: string[];
  id: number;
  keys: string[];
  keySlots: number[];
  slot: number;
  flags: number;
}

export interface FeedResult {
  commands: ParsedCommand[];
  error?: string;
  rest: number;
  need: number;
}

export interface BatchHandles {
  batch: RequestBatch;
  replyEnds: Int32Array;
  replyStatus: Int32Array;
  plan: Int32Array;
}

export function makeBatch(cmds: number, args: number, keys: number, replies = 64, plan = 4096): BatchHandles {
  return {
    batch: {
      cmds: new Int32Array(cmds * CMD_STRIDE),
      args: new Int32Array(args * 2),
      keys: new Int32Array(keys * 2),
      status: new Int32Array(STATUS_LEN),
    },
    replyEnds: new Int32Array(replies),
    replyStatus: new Int32Array(R_STATUS_LEN),
    plan: new Int32Array(plan),
  };
}

export function bind(hotPath: HotPath, h: BatchHandles): void {
  hotPath.bindBatch(h.batch, h.replyEnds, h.replyStatus, h.plan);
}

export function setup(hotPath: HotPath, options: Partial<HotPathOptions> = {}): void {
  hotPath.configure({ ...DEFAULT_OPTIONS, ...options });
  hotPath.setCommandTable(compileForNative());
}

/** The commands of the last parse, decoded into strings. */
export function readCommands(hotPath: HotPath, chunk: Buffer, batch: RequestBatch, n: number): ParsedCommand[] {
  const out: ParsedCommand[] = [];
  for (let i = 0; i < n; i++) {
    const c = i * CMD_STRIDE;
    const start = batch.cmds[c + C_START];
    const end = batch.cmds[c + C_END];
    const argc = batch.cmds[c + C_ARGC];
    const arg0 = batch.cmds[c + C_ARG0];
    const flags = batch.cmds[c + C_FLAGS];
    let args: string[];
    const rawArg = (a: number) => chunk.toString('latin1', batch.args[(arg0 + a) * 2], batch.args[(arg0 + a) * 2] + batch.args[(arg0 + a) * 2 + 1]);
    if (flags & F_NEEDS_DECODE) {
      let lineEnd = end - 1;
      if (lineEnd > start && chunk[lineEnd - 1] === 0x0d) lineEnd--;
      const decoded = hotPath.decodeInline(chunk.subarray(start, lineEnd));
      args = decoded === null ? ['<unbalanced>'] : decoded.map((b) => b.toString('latin1'));
    } else {
      args = Array.from({ length: argc }, (_, a) => rawArg(a));
    }
    const keys: string[] = [];
    const keySlots: number[] = [];
    for (let k = 0; k < batch.cmds[c + C_NKEYS]; k++) {
      const rec = (batch.cmds[c + C_KEY0] + k) * 2;
      keys.push(args[batch.keys[rec] - arg0]);
      keySlots.push(batch.keys[rec + 1]);
    }
    out.push({ raw: chunk.toString('latin1', start, end), args, id: batch.cmds[c + C_CMD], keys, keySlots, slot: batch.cmds[c + C_SLOT], flags });
  }
  return out;
}

/**
 * Feed `pieces` one after the other as socket reads, re-feeding the unconsumed tail, growing
 * the arrays on S_GROW_ARGS and continuing on S_FULL, like the proxy. `onParse` sees every call
 * (for invariants). Stops at the first protocol error.
 */
export function feed(
  hotPath: HotPath, handles: BatchHandles, pieces: Buffer[],
  onParse?: (tail: Buffer, n: number, status: Int32Array) => void,
): FeedResult {
  const commands: ParsedCommand[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let need = 0;
  for (const piece of pieces) {
    pending = pending.length === 0 ? piece : Buffer.concat([pending, piece]);
    let from = 0;
    for (;;) {
      const n = hotPath.parseRequests(pending, from);
      const st = handles.batch.status;
      if (onParse) onParse(pending.subarray(from), n, st);
      commands.push(...readCommands(hotPath, pending, handles.batch, n));
      from += st[S_CONSUMED];
      if (st[S_ERROR] !== 0) {
        return { commands, error: protocolErrorText(st[S_ERROR], st[S_ERROR_BYTE]), rest: pending.length - from, need: 0 };
      }
      if (st[S_GROW_ARGS] > 0) {
        const size = st[S_GROW_ARGS];
        handles.batch.args = new Int32Array(size * 2);
        handles.batch.keys = new Int32Array(size * 2);
        bind(hotPath, handles);
        continue;
      }
      if (st[S_FULL]) continue;
      need = st[S_NEED];
      break;
    }
    pending = pending.subarray(from);
  }
  return { commands, rest: pending.length, need };
}

/** Every way to cut `wire` in two, plus byte by byte; large wires get sampled cut points. */
export function splitPlans(wire: Buffer, sample = 64): Buffer[][] {
  const plans: Buffer[][] = [[wire]];
  const cuts: number[] = [];
  if (wire.length <= 600) for (let i = 1; i < wire.length; i++) cuts.push(i);
  else {
    for (let i = 1; i < 40; i++) cuts.push(i, wire.length - i);
    for (let i = 0; i < sample; i++) cuts.push(1 + Math.floor((i * (wire.length - 2)) / sample));
  }
  for (const cut of cuts) plans.push([wire.subarray(0, cut), wire.subarray(cut)]);
  if (wire.length <= 600) plans.push(Array.from({ length: wire.length }, (_, i) => wire.subarray(i, i + 1)));
  return plans;
}

/** Invariant checks on every parse call: S_NEED is a sound "nothing before" bound. */
export function needChecker(t: ExecutionContext, label: string): (tail: Buffer, n: number, st: Int32Array) => void {
  let lastNeed = 0;
  let lastTail: Buffer | null = null;
  return (tail, n, st) => {
    if (lastTail !== null && lastNeed > 0 && tail.length < lastNeed && tail.subarray(0, lastTail.length).equals(lastTail)) {
      if (n !== 0 || st[S_ERROR] !== 0) t.fail(`${label}: progress at ${tail.length} bytes although S_NEED was ${lastNeed}`);
    }
    if (n === 0 && st[S_ERROR] === 0 && !st[S_FULL] && !st[S_GROW_ARGS]) {
      lastNeed = st[S_NEED];
      lastTail = Buffer.from(tail);
    } else {
      lastNeed = 0;
      lastTail = null;
    }
  };
}

function toBuffer(wire: string | Buffer): Buffer {
  return typeof wire === 'string' ? Buffer.from(wire, 'latin1') : wire;
}

function expectedSlot(keys: Buffer[]): number {
  if (keys.length === 0) return SLOT_NONE;
  const slots = new Set(keys.map(oracleSlot));
  return slots.size === 1 ? [...slots][0] : SLOT_CROSS;
}

/** Check one parsed command against its expectation (slots from the CRC16 oracle). */
export function checkCommand(t: ExecutionContext, label: string, got: ParsedCommand, want: ExpectedCommand, hash: 'crc16' | 'murmur' = 'crc16'): void {
  t.deepEqual(got.args, want.args, `${label}: args`);
  t.is(got.id, want.name === null ? CMD_UNKNOWN : commandId(want.name), `${label}: command id`);
  t.true(want.name === null || commandId(want.name) >= 0, `${label}: ${want.name} is in the table`);
  t.is(Boolean(got.flags & F_INLINE), Boolean(want.inline), `${label}: F_INLINE`);
  t.is(Boolean(got.flags & F_NEEDS_DECODE), Boolean(want.decode), `${label}: F_NEEDS_DECODE`);
  t.is(Boolean(got.flags & F_BAD_KEYS), Boolean(want.badKeys), `${label}: F_BAD_KEYS`);
  const keys = want.keys ?? [];
  t.deepEqual(got.keys, keys, `${label}: keys`);
  if (hash === 'crc16') {
    const keyBufs = keys.map((k) => Buffer.from(k, 'latin1'));
    t.deepEqual(got.keySlots, keyBufs.map(oracleSlot), `${label}: key slots`);
    t.is(got.slot, expectedSlot(keyBufs), `${label}: C_SLOT`);
  }
}

/**
 * Run every WIRE_CASES entry against `hotPath` unsplit, at every split point and byte by byte,
 * with roomy and with tiny output arrays (so S_FULL and S_GROW_ARGS paths run too).
 */
export function runWireCases(t: ExecutionContext, hotPath: HotPath, cases: WireCase[] = WIRE_CASES): void {
  for (const c of cases) {
    setup(hotPath, c.options);
    const wire = toBuffer(c.wire);
    const roomy = makeBatch(64, 1024, 1024);
    bind(hotPath, roomy);
    const whole = feed(hotPath, roomy, [wire]);
    t.is(whole.commands.length, c.commands.length, `${c.name}: command count`);
    whole.commands.forEach((got, i) => {
      if (c.commands[i]) checkCommand(t, `${c.name} #${i}`, got, c.commands[i]);
    });
    t.is(whole.error, c.error, `${c.name}: error`);
    if (c.rest !== undefined) t.is(whole.rest, c.rest, `${c.name}: unconsumed bytes`);
    else if (c.error === undefined) t.is(whole.rest, 0, `${c.name}: everything consumed`);
    if (c.need !== undefined) t.is(whole.need, c.need, `${c.name}: S_NEED`);
    // The raw range of each command is exactly its bytes on the wire, back to back.
    const rawJoined = whole.commands.map((x) => x.raw).join('');
    t.true(wire.toString('latin1').includes(rawJoined), `${c.name}: C_START..C_END cover the command bytes`);

    const tiny = makeBatch(1, 1, 1);
    for (const pieces of splitPlans(wire)) {
      for (const handles of [roomy, tiny]) {
        handles.batch.args = new Int32Array(handles === tiny ? 2 : 2048);
        handles.batch.keys = new Int32Array(handles === tiny ? 2 : 2048);
        bind(hotPath, handles);
        const label = `${c.name} [${pieces.map((p) => p.length).join('+')}]${handles === tiny ? ' tiny' : ''}`;
        const got = feed(hotPath, handles, pieces, needChecker(t, label));
        if (!sameOutcome(got, whole)) t.fail(`${label}: split feed differs: ${JSON.stringify(got)} vs ${JSON.stringify(whole)}`);
      }
    }
    t.pass(`${c.name}: all split points agree`);
  }
}

export function sameOutcome(a: FeedResult, b: FeedResult): boolean {
  // After an error the left-over byte count depends on how much had arrived: not compared.
  const restA = a.error === undefined ? a.rest : -1;
  const restB = b.error === undefined ? b.rest : -1;
  return JSON.stringify([a.commands, a.error, restA]) === JSON.stringify([b.commands, b.error, restB]);
}

/* ---------- replies ---------- */

export interface ReplyCase {
  name: string;
  /** Complete replies, concatenated on the wire in this order. */
  replies?: Array<string | Buffer>;
  /** Or: a wire that is not RESP (R_ERROR after `good` complete replies). */
  bad?: string;
  good?: number;
}

export const REPLY_CASES: ReplyCase[] = [
  { name: 'RESP2 scalars', replies: ['+OK\r\n', '-ERR wrong\r\n', ':42\r\n', ':-7\r\n', '$3\r\nfoo\r\n', '$0\r\n\r\n', '$-1\r\n', '*-1\r\n', '*0\r\n', '+\r\n'] },
  { name: 'bulk with CRLF inside', replies: ['$6\r\na\r\nb\r\n\r\n', '$2\r\n\r\n\r\n'] },
  { name: 'arrays nested', replies: ['*2\r\n$1\r\na\r\n*3\r\n:1\r\n*1\r\n$-1\r\n+x\r\n', '*3\r\n*0\r\n*-1\r\n*1\r\n*1\r\n*1\r\n:9\r\n'] },
  { name: 'deep nesting', replies: ['*1\r\n'.repeat(300) + ':1\r\n', '*2\r\n' + '*1\r\n'.repeat(50) + '$1\r\nz\r\n:5\r\n'] },
  { name: 'MGET style reply', replies: ['*4\r\n$2\r\nv1\r\n$-1\r\n$0\r\n\r\n$5\r\nhello\r\n'] },
  {
    name: 'RESP3 types',
    replies: ['_\r\n', ',3.14\r\n', '#t\r\n', '(3492890328409238509324850943850943825024385\r\n', '=15\r\ntxt:Some string\r\n', '!21\r\nSYNTAX invalid syntax\r\n', '%2\r\n+a\r\n:1\r\n+b\r\n*2\r\n:1\r\n:2\r\n', '~3\r\n+x\r\n+y\r\n_\r\n', '>3\r\n+message\r\n+ch\r\n$2\r\nhi\r\n'],
  },
  { name: 'RESP3 attribute before a value', replies: ['|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n', '*2\r\n|1\r\n+ttl\r\n:3600\r\n+v\r\n:1\r\n'] },
  { name: 'big bulk', replies: [`$70000\r\n${big(70000, 'b')}\r\n`, '+OK\r\n'] },
  { name: 'bad type byte', replies: ['+OK\r\n'], bad: '+OK\r\n?x\r\n', good: 1 },
  { name: 'bad bulk length', bad: '$abc\r\n', good: 0 },
  { name: 'bulk without CRLF after payload', bad: ':1\r\n$3\r\nfooXY', good: 1 },
  { name: 'negative array count', bad: '*-2\r\n', good: 0 },
  { name: 'line without LF', bad: '+OK\rX', good: 0 },
];

function frameAll(hotPath: HotPath, h: BatchHandles, pieces: Buffer[], t?: ExecutionContext, label = ''): { ends: number[]; error: boolean; rest: number } {
  const ends: number[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let base = 0; // absolute wire offset of pending[0]
  let lastNeed = 0;
  let lastLen = 0;
  for (const piece of pieces) {
    pending = pending.length === 0 ? piece : Buffer.concat([pending, piece]);
    let from = 0;
    for (;;) {
      const n = hotPath.frameReplies(pending, from);
      const st = h.replyStatus;
      if (t && lastNeed > 0 && pending.length - from < lastNeed && pending.length > lastLen && n > 0) t.fail(`${label}: reply completed below R_NEED`);
      lastNeed = 0;
      for (let i = 0; i < n; i++) ends.push(base + h.replyEnds[i]);
      from += st[R_CONSUMED];
      if (n > 0 && h.replyEnds[n - 1] !== from) t?.fail(`${label}: R_CONSUMED disagrees with the last end`);
      if (st[R_ERROR]) return { ends, error: true, rest: pending.length - from };
      if (n === h.replyEnds.length && from < pending.length) continue;
      lastNeed = st[R_NEED];
      lastLen = pending.length - from;
      break;
    }
    base += from;
    pending = pending.subarray(from);
  }
  return { ends, error: false, rest: pending.length };
}

export function runReplyCases(t: ExecutionContext, hotPath: HotPath, cases: ReplyCase[] = REPLY_CASES): void {
  setup(hotPath);
  for (const c of cases) {
    const parts = (c.replies ?? []).map(toBuffer);
    const wire = c.bad !== undefined ? Buffer.from(c.bad, 'latin1') : Buffer.concat(parts);
    const expectedEnds: number[] = [];
    if (c.bad === undefined) parts.reduce((off, p) => (expectedEnds.push(off + p.length), off + p.length), 0);
    for (const capacity of [64, 1]) {
      const h = makeBatch(4, 4, 4, capacity);
      bind(hotPath, h);
      for (const pieces of splitPlans(wire)) {
        const label = `${c.name} [${pieces.map((p) => p.length).join('+')}] cap ${capacity}`;
        const got = frameAll(hotPath, h, pieces, t, label);
        if (c.bad === undefined) {
          if (got.error || got.rest !== 0 || JSON.stringify(got.ends) !== JSON.stringify(expectedEnds)) t.fail(`${label}: got ${JSON.stringify(got)}, want ends ${JSON.stringify(expectedEnds)}`);
        } else if (!got.error || got.ends.length !== c.good) {
          t.fail(`${label}: want R_ERROR after ${c.good} replies, got ${JSON.stringify(got)}`);
        }
      }
    }
    // An incomplete big bulk reports how many bytes it needs.
    if (c.bad === undefined && parts.length > 0 && parts[0].length > 2) {
      const h = makeBatch(4, 4, 4);
      bind(hotPath, h);
      hotPath.frameReplies(parts[0].subarray(0, parts[0].length - 1), 0);
      t.is(h.replyStatus[R_COUNT], 0, `${c.name}: truncated first reply is incomplete`);
      t.is(h.replyStatus[R_ERROR], 0, `${c.name}: truncated first reply is no error`);
      const need = h.replyStatus[R_NEED];
      t.true(need === 0 || (need >= parts[0].length - 1 && need <= parts[0].length), `${c.name}: R_NEED ${need} is a sound bound`);
    }
    t.pass(`${c.name}: framed alike at every split point`);
  }
}

/* ---------- generators for property tests (fast-check) ---------- */

const NAMES = ['GET', 'set', 'MGET', 'mset', 'DEL', 'exists', 'EVAL', 'xread', 'OBJECT', 'ping', 'NOSUCH'];

export type Encoded = { wire: Buffer; args: Buffer[] };

const argBytes = fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a));
const argList = fc.tuple(fc.constantFrom(...NAMES), fc.array(argBytes, { maxLength: 6 }));

function multibulk([name, rest]: [string, Buffer[]]): Encoded {
  const args = [Buffer.from(name), ...rest];
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n'));
  return { wire: Buffer.concat(parts), args };
}

/** Plain inline: tokens of bytes that need no quoting. */
const plainToken = fc.uint8Array({ minLength: 1, maxLength: 12 }).map((a) => Buffer.from(a.filter((b) => b > 0x20 && b !== 0x22 && b !== 0x27 && b < 0x7f)));
function inline([name, rest]: [string, Buffer[]], sep: string, eol: string): Encoded {
  const args = [Buffer.from(name), ...rest.filter((b) => b.length > 0)];
  return { wire: Buffer.concat([Buffer.from(args.map((a) => a.toString('latin1')).join(sep), 'latin1'), Buffer.from(eol)]), args };
}

/** Quoted inline: every byte escaped the way sdssplitargs reads it back. */
function quote(arg: Buffer, single: boolean): string {
  if (single) return `'${arg.toString('latin1').replace(/'/g, "\\'")}'`; // no backslashes here (singleQuotable)
  let s = '"';
  for (const b of arg) {
    if (b === 0x22) s += '\\"';
    else if (b === 0x5c) s += '\\\\';
    else if (b < 0x20 || b >= 0x7f) s += `\\x${b.toString(16).padStart(2, '0')}`;
    else s += String.fromCharCode(b);
  }
  return s + '"';
}
const singleQuotable = (b: Buffer) => !b.includes(0) && !b.includes(0x0a) && !b.includes(0x0d) && !b.includes(0x5c);
function quotedInline([name, rest]: [string, Buffer[]], singles: boolean[]): Encoded {
  const args = [Buffer.from(name), ...rest];
  const line = args.map((a, i) => (i === 0 ? name : quote(a, Boolean(singles[i]) && singleQuotable(a)))).join(' ');
  return { wire: Buffer.from(line + '\r\n', 'latin1'), args };
}

/** A random command (multibulk, plain inline or quoted inline) and the arguments it encodes. */
export const command: fc.Arbitrary<Encoded> = fc.oneof(
  { weight: 3, arbitrary: argList.map(multibulk) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...NAMES), fc.array(plainToken, { maxLength: 5 }), fc.constantFrom(' ', '  ', '\t'), fc.constantFrom('\r\n', '\n')).map(([n, r, sep, eol]) => inline([n, r], sep, eol)) },
  { weight: 1, arbitrary: fc.tuple(argList, fc.array(fc.boolean(), { maxLength: 7 })).map(([a, s]) => quotedInline(a, s)) },
);

/** Cut `wire` at the given points (taken modulo its length); empty pieces dropped. */
export function cutAt(wire: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    pieces.push(wire.subarray(prev, p));
    prev = p;
  }
  pieces.push(wire.subarray(prev));
  return pieces.filter((p) => p.length > 0);
}

const scalar = fc.oneof(
  fc.string({ maxLength: 10 }).map((s) => `+${s.replace(/[\r\n]/g, '')}\r\n`),
  fc.string({ maxLength: 10 }).map((s) => `-ERR ${s.replace(/[\r\n]/g, '')}\r\n`),
  fc.integer().map((n) => `:${n}\r\n`),
  fc.uint8Array({ maxLength: 20 }).map((a) => `$${a.length}\r\n${Buffer.from(a).toString('latin1')}\r\n`),
  fc.constantFrom('$-1\r\n', '*-1\r\n', '_\r\n', '#t\r\n', ',1.5\r\n', '(12345678901234567890\r\n', '=7\r\ntxt:abc\r\n'),
);
/** A random RESP2/RESP3 reply, any nesting, attributes included. */
export const { value: respValue } = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.tuple(fc.constantFrom('*', '~', '>'), fc.array(tie('value'), { maxLength: 4 })).map(([t, xs]) => `${t}${xs.length}\r\n${xs.join('')}`),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((kv) => `%${kv.length}\r\n${kv.map(([k, v]) => k + v).join('')}`),
    fc.tuple(scalar, scalar, tie('value')).map(([k, v, x]) => `|1\r\n${k}${v}${x}`),
  ),
}));

const soupByte = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...'*$\r\n0123456789-+ "\'\\xabGET'.split('').map((c) => c.charCodeAt(0))) },
  { weight: 1, arbitrary: fc.constantFrom(0, 0x0b, 0xe9) },
);
/** Random bytes biased towards protocol characters, for robustness properties. */
export const soup = fc.array(soupByte, { maxLength: 60 }).map((a) => Buffer.from(a));

