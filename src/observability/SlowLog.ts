/**
 * The proxy's SLOWLOG: commands whose time from the first byte read to the reply written
 * reached `slowlog.slowerThanUs`, newest first, at most `slowlog.maxLen` per worker, in Redis's
 * entry format (slowlog.c): id, unix time, duration µs, arguments (at most 32, the last one
 * saying how many more; each at most 128 bytes plus "... (N more bytes)"), client address,
 * client name. Arguments of AUTH and HELLO ... AUTH are redacted as Redis does.
 * Workers keep their own ring; `mergeSlowlogs` combines them for SLOWLOG GET (the workers'
 * entries reach the asking worker through the primary: ObservabilityQuery.ts) and the admin API.
 */
import { arrayReply, bulkReply, integerReply } from '../proxy/Resp';
import { decodeInlineArgs, parseRequestArgs } from './requestArgs';
import { LogPin, LONG_REQUEST, refLength, RequestLog } from './RequestLog';

export const SLOWLOG_MAX_ARGC = 32;
export const SLOWLOG_MAX_STRING = 128;

export interface SlowlogEntry {
  id: number;
  /** Unix time, seconds. */
  time: number;
  /** Unix time, ms: orders the entries of several workers (Redis's order is the order they were logged). */
  timeMs: number;
  durationUs: number;
  /** Arguments as logged (already truncated), latin1 strings so any byte survives IPC. */
  args: string[];
  client: string;
  name: string;
}

/** slowlog.c slowlogCreateEntry: at most 32 arguments and 128 bytes each. */
export function slowlogArgs(argv: readonly Buffer[]): string[] {
  const argc = argv.length;
  const n = Math.min(argc, SLOWLOG_MAX_ARGC);
  const out: string[] = new Array(n);
  const redactFrom = redactedFrom(argv);
  for (let j = 0; j < n; j++) {
    if (n !== argc && j === n - 1) {
      out[j] = `... (${argc - n + 1} more arguments)`;
    } else if (j >= redactFrom) {
      out[j] = '(redacted)';
    } else if (argv[j].length > SLOWLOG_MAX_STRING) {
      out[j] = `${argv[j].toString('latin1', 0, SLOWLOG_MAX_STRING)}... (${argv[j].length - SLOWLOG_MAX_STRING} more bytes)`;
    } else {
      out[j] = argv[j].toString('latin1');
    }
  }
  return out;
}

/** Index from which arguments are secrets: AUTH's, and HELLO's after AUTH (Redis redacts them). */
function redactedFrom(argv: readonly Buffer[]): number {
  const first = argv[0];
  // Only AUTH and HELLO redact: most entries skip making a string of their name.
  if (first === undefined || (first.length !== 4 && first.length !== 5)) return Number.MAX_SAFE_INTEGER;
  const name = first.toString('latin1').toLowerCase();
  if (name === 'auth') return 1;
  if (name === 'hello') {
    for (let i = 2; i < argv.length; i++) if (argv[i].toString('latin1').toLowerCase() === 'auth') return i + 1;
  }
  return Number.MAX_SAFE_INTEGER;
}

/**
 * Requests up to this many bytes are kept as bytes and decoded when the entry is read; longer
 * ones are decoded when added (rare, and their arguments are cut to 128 bytes anyway).
 */
export const SLOWLOG_KEPT_BYTES = 4096;

/**
 * One place in the ring, reused by every entry that lands there: under overload most commands
 * are slow (their time includes queueing) while only the newest maxLen are ever read, so adding
 * an entry is a few field writes and allocates nothing. Its request stays in the client's
 * RequestLog (a pin) until the log is about to overwrite it; only then, and only if the entry
 * is still here, is it copied into the slot's own buffer. Arguments are decoded when read.
 * (A new object and a request copy per entry, each living for maxLen entries, were promoted
 * out of V8's young generation and kept its major GC busy.)
 */
class SlowSlot implements LogPin {
  id = 0;
  /** Unix time, seconds, and ms (the order of entries across workers). */
  time = 0;
  timeMs = 0;
  durationUs = 0;
  /** The request is log.bytes[offset, offset + len) while `log` is set (generation `generation`)... */
  log: RequestLog | null = null;
  generation = 0;
  offset = 0;
  /** ...else bytes[0, len), when `args` is null. */
  bytes: Buffer | null = null;
  len = 0;
  /** The command's name (`a|b` for a subcommand): logged alone when the bytes are not its request. */
  command = '';
  client = '';
  name = '';
  /** The arguments as logged: decoded on first read, or at once when the bytes were not kept. */
  args: string[] | null = null;

  /** Refer to log.bytes[offset, offset + length) (copied at once when the log cannot keep it). */
  refer(log: RequestLog, offset: number, length: number): void {
    const pinned = this.log === log && this.generation === log.generation; // (already on its pin list)
    this.log = log;
    this.generation = log.generation;
    this.offset = offset;
    this.len = length;
    if (!pinned && !log.pin(this)) this.copyOut();
  }

  detach(log: RequestLog, generation: number): void {
    if (this.log === log && this.generation === generation) this.copyOut();
  }

  /** Copy the request out of the log into the slot's own buffer. */
  private copyOut(): void {
    const length = this.len;
    let bytes = this.bytes;
    if (bytes === null || bytes.length < length) {
      // Its own memory (not a slice of Node's shared pool, which it would keep alive).
      bytes = this.bytes = Buffer.allocUnsafeSlow(Math.max(256, 2 ** Math.ceil(Math.log2(length))));
    }
    this.log!.bytes!.copy(bytes, 0, this.offset, this.offset + length);
    this.log = null;
  }

  entry(): SlowlogEntry {
    const args = (this.args ??= this.decode());
    return { id: this.id, time: this.time, timeMs: this.timeMs, durationUs: this.durationUs, args, client: this.client, name: this.name };
  }

  private decode(): string[] {
    const req = this.log !== null ? this.log.bytes!.subarray(this.offset, this.offset + this.len) : this.bytes!.subarray(0, this.len);
    return slowlogArgs(commandArgs(req[0] === 0x2a ? parseRequestArgs(req, 0) : decodeInlineArgs(req, 0), this.command));
  }
}

/** The request's arguments, or the command's name alone when they are not its request (a re-encoded command: inline with quotes, key rewrite). */
function commandArgs(argv: Buffer[] | null, command: string): Buffer[] {
  if (argv !== null && argv.length > 0 && argv[0].toString('latin1').toLowerCase() === command.split('|')[0]) return argv;
  return [Buffer.from(command.replace('|', ' '))];
}

export class SlowLog {
  /** A ring: `ring[(start + i) % ring.length]` is the i-th oldest of `count` entries (O(1) add). */
  private ring: SlowSlot[] = [];
  private start = 0;
  private count = 0;
  private nextId = 0;

  constructor(
    public maxLen: number,
    /** Makes ids unique across workers: id = local sequence * stride + offset. */
    private readonly idStride = 1,
    private readonly idOffset = 0,
  ) {}

  /** An entry with its arguments given (`argv` is read at once). */
  add(durationUs: number, argv: readonly Buffer[], client: string, name: string, nowMs = Date.now()): void {
    if (this.maxLen <= 0) return;
    const slot = this.claim(durationUs, client, name, nowMs);
    slot.log = null;
    slot.args = slowlogArgs(argv);
  }

  /**
   * An entry for the request of `ref` in a client's request log (RESP or inline), decoded when
   * read; `log` null or not holding it: the command's name alone. `command`: the command's name,
   * also logged alone when the bytes turn out not to be its request.
   */
  addRequest(durationUs: number, log: RequestLog | null, ref: number, command: string, client: string, name: string, nowMs = Date.now()): void {
    if (this.maxLen <= 0) return;
    const slot = this.claim(durationUs, client, name, nowMs);
    slot.command = command;
    if (log === null || !log.holds(ref)) {
      slot.log = null;
      slot.args = slowlogArgs(commandArgs(null, command));
      return;
    }
    const length = refLength(ref);
    const at = log.position(ref);
    if (length === LONG_REQUEST || length > SLOWLOG_KEPT_BYTES) {
      slot.log = null;
      const buf = log.bytes!.subarray(0, log.length);
      slot.args = slowlogArgs(commandArgs(buf[at] === 0x2a ? parseRequestArgs(buf, at) : decodeInlineArgs(buf, at), command));
      return;
    }
    slot.refer(log, at, length);
  }

  /** The slot of a new entry (the oldest one's when full), its fields but the request's set. */
  private claim(durationUs: number, client: string, name: string, nowMs: number): SlowSlot {
    if (this.ring.length !== this.maxLen) this.resize();
    let at: number;
    if (this.count < this.maxLen) {
      at = (this.start + this.count) % this.maxLen;
      this.count++;
    } else {
      at = this.start; // overwrite the oldest
      this.start = (this.start + 1) % this.maxLen;
    }
    const slot = (this.ring[at] ??= new SlowSlot());
    slot.id = this.nextId++ * this.idStride + this.idOffset;
    slot.time = Math.floor(nowMs / 1000);
    slot.timeMs = nowMs;
    slot.durationUs = Math.round(durationUs);
    slot.client = client;
    slot.name = name;
    slot.args = null;
    return slot;
  }

  get length(): number {
    return this.count;
  }

  /** Newest first; count < 0 = all. */
  get(count = 10): SlowlogEntry[] {
    const n = count < 0 ? this.count : Math.min(count, this.count);
    const out: SlowlogEntry[] = [];
    for (let i = 0; i < n; i++) out.push(this.ring[(this.start + this.count - 1 - i) % this.ring.length].entry());
    return out;
  }

  reset(): void {
    for (const slot of this.ring) if (slot !== undefined) slot.log = null; // (their pins then do nothing)
    this.ring = [];
    this.start = 0;
    this.count = 0;
  }

  setMaxLen(maxLen: number): void {
    this.maxLen = maxLen;
    this.resize();
  }

  /** Keep the newest entries (their slots) that fit in a ring of maxLen. */
  private resize(): void {
    const maxLen = Math.max(0, this.maxLen);
    const kept = Math.min(this.count, maxLen);
    const ring: SlowSlot[] = new Array(maxLen);
    for (let i = 0; i < kept; i++) ring[i] = this.ring[(this.start + this.count - kept + i) % this.ring.length];
    this.ring = ring;
    this.start = 0;
    this.count = kept;
  }
}

/**
 * Newest first over several workers' entries (by the ms they were logged, then id: one worker's
 * ids grow with time), at most `count` (< 0 = all).
 */
export function mergeSlowlogs(lists: readonly SlowlogEntry[][], count: number): SlowlogEntry[] {
  const all = lists.flat().sort((a, b) => b.timeMs - a.timeMs || b.id - a.id);
  return count < 0 ? all : all.slice(0, count);
}

/** SLOWLOG GET's RESP2 reply. */
export function slowlogReply(entries: readonly SlowlogEntry[]): Buffer {
  return arrayReply(
    entries.map((e) =>
      arrayReply([
        integerReply(e.id),
        integerReply(e.time),
        integerReply(e.durationUs),
        arrayReply(e.args.map((a) => bulkReply(Buffer.from(a, 'latin1')))),
        bulkReply(e.client),
        bulkReply(Buffer.from(e.name, 'latin1')),
      ]),
    ),
  );
}


/** SLOWLOG GET [count]'s count: default 10, -1 = all; Redis's error otherwise. */
export function slowlogCount(arg: Buffer | undefined): number | null {
  if (arg === undefined) return 10;
  const text = arg.toString('latin1');
  if (!/^-?\d{1,18}$/.test(text) || Number(text) < -1) return null;
  return Number(text);
}
