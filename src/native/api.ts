/**
 * The contract between the proxy and the hot-path core. Two implementations satisfy it: the C++
 * addon (native/, loaded by ./index.ts) and the pure-TypeScript reference (./reference/), which
 * is the oracle for differential tests and the fallback when the addon cannot load.
 *
 * Calling convention (why it looks like this): JS crosses into native once per socket read.
 * Results go into typed arrays allocated once per worker and registered with `bindBatch`; they
 * are valid until the next parse call, so the caller consumes them synchronously. Nothing
 * allocates per command except `split` and `merge` (one Buffer per multi-key command).
 */

/* ---------- request framing: one record per complete command ---------- */

/** Int32 fields per command in `RequestBatch.cmds`. */
export const CMD_STRIDE = 9;
export const C_START = 0; // byte offset of the command in the chunk
export const C_END = 1; // byte offset just past it
export const C_ARGC = 2;
export const C_CMD = 3; // command id (index into the command table), or CMD_UNKNOWN
export const C_ARG0 = 4; // index of its first argument (the command name) in `args` (pairs)
export const C_KEY0 = 5; // index of its first key in `keys` (pairs)
export const C_NKEYS = 6;
export const C_SLOT = 7; // common slot of all keys; SLOT_NONE (no keys) or SLOT_CROSS (keys differ)
export const C_FLAGS = 8; // F_* bits

export const CMD_UNKNOWN = -1;
export const SLOT_NONE = -1;
export const SLOT_CROSS = -2;

/** The command came as an inline line (`PING\r\n`) rather than a RESP array. */
export const F_INLINE = 1;
/** Inline with quotes/escapes: `args` ranges are raw, decode with `decodeInline` (rare path). */
export const F_NEEDS_DECODE = 2;
/** The key arguments could not be located (malformed numkeys, ...): let the backend answer. */
export const F_BAD_KEYS = 4;

/** `args`: pairs [offset, length] into the chunk, one per argument (name included). */
export const ARG_STRIDE = 2;
/** `keys`: pairs [argument index (absolute, into args), slot]. */
export const KEY_STRIDE = 2;

/** Fields of `RequestBatch.status` after a parse call. */
export const S_NCMDS = 0; // complete commands reported
export const S_CONSUMED = 1; // bytes of the chunk (from `from`) covered by them
export const S_ERROR = 2; // 0 or a ProtocolErrorCode, for the bytes right after S_CONSUMED
export const S_NEED = 3; // when the tail is incomplete: total bytes the tail needs, if known (else 0)
export const S_FULL = 4; // 1 when output arrays filled up: call again from S_CONSUMED
export const S_GROW_ARGS = 5; // >0: one command has this many args, more than `args` holds: grow and retry
export const S_ERROR_BYTE = 6; // with ExpectedDollar: the byte Redis quotes (CR/LF shown as a space, as Redis prints it)
/**
 * For an incomplete multibulk command at S_CONSUMED: the offset, from the command's start, of its
 * first argument not yet complete, and how many arguments precede it (0 = no resume point).
 * Passed back to parseRequests with the same bytes plus more (the command then starting at
 * `from`), framing resumes there instead of rescanning the command from its start: a huge
 * command arriving in many reads is framed in time linear in its size, as replies are.
 */
export const S_RESUME_AT = 7;
export const S_RESUME_ARGS = 8;
export const STATUS_LEN = 9;

export enum ProtocolErrorCode {
  None = 0,
  InvalidMultibulkLength = 1,
  InvalidBulkLength = 2,
  ExpectedDollar = 3, // the text carries the offending byte: use protocolErrorText()
  UnbalancedQuotes = 4,
  TooBigInlineRequest = 5,
  TooBigMbulkCountString = 6,
  TooBigBulkCountString = 7,
}

/**
 * The exact texts Redis 7 replies with (networking.c processInlineBuffer /
 * processMultibulkBuffer); the proxy sends one of them, then closes only that client.
 * A missing CRLF after a length shows up as one of these, exactly as in Redis.
 */
export const PROTOCOL_ERROR_TEXT: Record<ProtocolErrorCode, string> = {
  [ProtocolErrorCode.None]: '',
  [ProtocolErrorCode.InvalidMultibulkLength]: 'ERR Protocol error: invalid multibulk length',
  [ProtocolErrorCode.InvalidBulkLength]: 'ERR Protocol error: invalid bulk length',
  [ProtocolErrorCode.ExpectedDollar]: "ERR Protocol error: expected '$', got '%c'",
  [ProtocolErrorCode.UnbalancedQuotes]: 'ERR Protocol error: unbalanced quotes in request',
  [ProtocolErrorCode.TooBigInlineRequest]: 'ERR Protocol error: too big inline request',
  [ProtocolErrorCode.TooBigMbulkCountString]: 'ERR Protocol error: too big mbulk count string',
  [ProtocolErrorCode.TooBigBulkCountString]: 'ERR Protocol error: too big bulk count string',
};

/** The error line for a parse failure; `badByte` is the byte at the error position. */
export function protocolErrorText(code: ProtocolErrorCode, badByte: number): string {
  return PROTOCOL_ERROR_TEXT[code].replace('%c', String.fromCharCode(badByte));
}

export interface RequestBatch {
  cmds: Int32Array; // capacity: cmds.length / CMD_STRIDE commands
  args: Int32Array; // capacity: args.length / ARG_STRIDE arguments
  keys: Int32Array; // capacity: keys.length / KEY_STRIDE keys
  status: Int32Array; // STATUS_LEN
}

/* ---------- reply framing ---------- */

/** Fields of the reply status array after `frameReplies`. */
export const R_COUNT = 0; // complete top-level replies found; their end offsets are in `ends`
export const R_CONSUMED = 1; // bytes covered (== end of the last reply - from)
export const R_NEED = 2; // total bytes the incomplete tail needs, if known (else 0)
export const R_ERROR = 3; // 1 = the backend sent bytes that are not RESP (the connection is broken)
/**
 * For an incomplete reply: the offset of its first value not yet complete and the number of
 * values still owed there (0 = none). Passed back to frameReplies with the same bytes plus more,
 * framing resumes there instead of rescanning the reply from its start (linear, not quadratic,
 * for a huge array arriving in many reads).
 */
export const R_RESUME_AT = 4;
export const R_RESUME_OWED = 5;
export const R_STATUS_LEN = 6;

/* ---------- split / merge of MGET, MSET, DEL, EXISTS, UNLINK, TOUCH ---------- */

export enum MergeKind {
  /** MGET: values reassembled in the client's key order. */
  Array = 1,
  /** DEL, EXISTS, UNLINK, TOUCH: integers summed. */
  Sum = 2,
  /** MSET: +OK when every shard said OK, else the first error. */
  AllOk = 3,
}

/**
 * Plan written by `split` into the bound `plan` array:
 *   plan[0] = number of sub-commands n, plan[1] = merge kind, plan[2] = number of keys k,
 *   then n records [shard index, byte start in the returned buffer, byte end, key count],
 *   then k records [sub-command index, position of the key within that sub-command's keys].
 */
export const PLAN_HEADER = 3;
export const PLAN_SUB_STRIDE = 4;
export const PLAN_KEY_STRIDE = 2;

export interface HotPath {
  /** True for the C++ addon, false for the TypeScript reference. */
  readonly nativeEnabled: boolean;

  /** Engine-wide settings; call before parsing and whenever config changes. */
  configure(options: { maxBulkBytes: number; maxInlineBytes: number; hash: 'crc16' | 'murmur'; murmurSeed: number }): void;

  /**
   * The command table in a compact form (see src/commands/table.ts: `compileForNative`):
   * names (lowercase) in id order and their key specs. Called once at start.
   */
  setCommandTable(compiled: CompiledCommandTable): void;

  /** Register the per-worker output arrays (kept by reference; no copy per call). */
  bindBatch(batch: RequestBatch, replyEnds: Int32Array, replyStatus: Int32Array, plan: Int32Array): void;

  /** The slot → shard-index table TypeScript owns and updates in place (Uint16Array(16384)). */
  bindSlotTable(table: Uint16Array): void;

  /**
   * Frame complete commands in chunk[from..end) (end defaults to chunk.length; offsets stay
   * relative to chunk); results in the bound batch. Returns S_NCMDS.
   * `resumeAt`/`resumeArgs`: S_RESUME_AT/S_RESUME_ARGS of an earlier call that stopped in the
   * command now starting at `from` (same bytes, more may follow). `copyTo`: also copy
   * chunk[from, end) to copyTo at `copyAt` (SLOWLOG's request log; the caller made room), in the
   * same call.
   */
  parseRequests(chunk: Buffer, from: number, end?: number, resumeAt?: number, resumeArgs?: number, copyTo?: Buffer | null, copyAt?: number): number;

  /**
   * Frame complete replies in chunk[from..end); end offsets in `replyEnds`. Returns R_COUNT.
   * `resumeAt`/`resumeOwed`: R_RESUME_AT/R_RESUME_OWED of an earlier call that stopped in the
   * reply starting at `from` (same bytes, offsets in this chunk).
   */
  frameReplies(chunk: Buffer, from: number, end?: number, resumeAt?: number, resumeOwed?: number): number;

  /**
   * Copy src[start, end) to dst at `at` (the caller checked it fits), allocating nothing: Node's
   * Buffer#copy makes a Uint8Array view of the source per call, garbage on the hot path (a
   * parked reply, a request kept for SLOWLOG).
   */
  copyBytes(dst: Buffer, at: number, src: Buffer, start: number, end: number): void;

  /**
   * Split command `cmdIndex` of the last parse (a MergeKind command) into one sub-command per
   * shard, grouped by the bound slot table. Returns the buffer holding all sub-commands (at the
   * plan's offsets); the plan goes into the bound `plan` array. The buffer is only valid until
   * the next `split` (the native engine reuses one).
   */
  split(chunk: Buffer, cmdIndex: number): Buffer;

  /**
   * Merge the sub-replies (one complete RESP reply each, in sub-command order) into one reply,
   * only valid until the next `merge` (the native engine reuses one buffer).
   */
  merge(plan: Int32Array, replies: Buffer[]): Buffer;

  /**
   * `merge` with the sub-replies in one buffer: sub-reply s is store[spans[2s], spans[2s+1])
   * (split/merge keeps them so: no Buffer per sub-reply). Same reply, same lifetime.
   */
  mergeStore(plan: Int32Array, store: Buffer, spans: Int32Array): Buffer;

  /** Slot of a key with the configured hash (hash tags honoured). */
  keySlot(key: Buffer): number;

  /** Decode an F_NEEDS_DECODE inline command (the bytes of the line, without CRLF) into args. */
  decodeInline(line: Buffer): Buffer[] | null;

  /** [routing code, merge kind] of a command id as the engine loaded them (tests, diagnostics); null for an unknown id. */
  commandInfo(id: number): [number, number] | null;
}

/**
 * Key specs in the Redis 7 model, flattened for native: one record per spec of a command.
 * begin: index (argument position) or keyword (search from `startFrom`, negative = from end);
 * find: range (lastKey relative to begin, -1 = last arg; step; limit) or keynum (index of the
 * count relative to begin, first key relative to begin, step).
 */
export interface CompiledCommandTable {
  names: string[];
  /** Per command: arity as Redis reports it (negative = at least). */
  arity: Int32Array;
  /** Per command: first spec index in `specs` and spec count. */
  specStart: Int32Array;
  specCount: Int32Array;
  /**
   * SPEC_STRIDE int32 per spec: [beginKind, beginIndexOrStartFrom, keywordId, findKind, a, b, c]
   * beginKind: 1 index, 2 keyword; findKind: 1 range (a=lastkey, b=step, c=limit), 2 keynum
   * (a=keynumidx, b=firstkey, c=step). keywordId indexes `keywords`.
   */
  specs: Int32Array;
  keywords: string[];
  /** Subcommand routing: "container|sub" names get their own ids; per container id, the id
   * of its first subcommand and count (-1/0 when none). Lookup is case-insensitive. */
  subStart: Int32Array;
  subCount: Int32Array;
  /** Per command: its routing class (ROUTING_CODE of commands.json's `routing`). */
  routing: Int32Array;
  /** Per command: MergeKind of a split command (commands.json's `merge`), else 0. */
  mergeKind: Int32Array;
}

/** Routing classes as numbers in CompiledCommandTable.routing (same numbers as the proxy's Route). */
export const ROUTING_CODE = { single: 1, split: 2, sameslot: 3, proxy: 4, allshards: 5, nokey: 6, unsupported: 7, dedicated: 8, pubsub: 9 } as const;

/** commands.json's `merge` names as MergeKind. */
export const MERGE_KIND_CODE = { array: MergeKind.Array, sum: MergeKind.Sum, allok: MergeKind.AllOk } as const;
export const SPEC_STRIDE = 7;
export const BEGIN_INDEX = 1;
export const BEGIN_KEYWORD = 2;
export const FIND_RANGE = 1;
export const FIND_KEYNUM = 2;
