/**
 * The proxy's SLOWLOG: commands whose time from the first byte read to the reply written
 * reached `slowlog.slowerThanUs`, newest first, at most `slowlog.maxLen` per worker, in Redis's
 * entry format (slowlog.c): id, unix time, duration µs, arguments (at most 32, the last one
 * saying how many more; each at most 128 bytes plus "... (N more bytes)"), client address,
 * client name. Arguments of AUTH and HELLO ... AUTH are redacted as Redis does.
 * Workers keep their own ring; `mergeSlowlogs` combines them for SLOWLOG GET and the admin API.
 */
import { arrayReply, bulkReply, integerReply } from '../proxy/Resp';
import { decodeInlineArgs, parseRequestArgs } from './requestArgs';

export const SLOWLOG_MAX_ARGC = 32;
export const SLOWLOG_MAX_STRING = 128;

export interface SlowlogEntry {
  id: number;
  /** Unix time, seconds. */
  time: number;
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
 * are slow (their time includes queueing) while only the newest maxLen are ever read, so an
 * entry costs a copy of its request into the slot's own buffer and a few field writes, and
 * allocates nothing once the slot's buffer is big enough. (A new object and buffer per entry,
 * each living for maxLen entries, was promoted out of the young generation and kept V8's
 * major GC busy: about a third of a loaded worker's extra CPU.)
 */
class SlowSlot {
  id = 0;
  /** Unix time, seconds. */
  time = 0;
  durationUs = 0;
  /** bytes[0, len): the request, RESP or inline, when `args` is null. */
  bytes: Buffer | null = null;
  len = 0;
  /** The command's name (`a|b` for a subcommand): logged alone when the bytes are not its request. */
  command = '';
  client = '';
  name = '';
  /** The arguments as logged: decoded on first read, or at once when the bytes were not kept. */
  args: string[] | null = null;

  entry(): SlowlogEntry {
    const args = (this.args ??= this.decode());
    return { id: this.id, time: this.time, durationUs: this.durationUs, args, client: this.client, name: this.name };
  }

  private decode(): string[] {
    const req = this.bytes!.subarray(0, this.len);
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
    this.claim(durationUs, client, name, nowMs).args = slowlogArgs(argv);
  }

  /**
   * An entry for the request at source[start, start + length) (RESP or inline; `length` < 0:
   * unknown, then the request is walked to its end within source[0, sourceEnd)), copied and
   * decoded when read. `command`: the command's name, logged alone when the bytes turn out not
   * to be its request; `source` null: not kept, the name alone.
   */
  addRequest(
    durationUs: number, source: Buffer | null, start: number, length: number, sourceEnd: number,
    command: string, client: string, name: string, nowMs = Date.now(),
  ): void {
    if (this.maxLen <= 0) return;
    const slot = this.claim(durationUs, client, name, nowMs);
    slot.command = command;
    if (source === null) {
      slot.args = slowlogArgs(commandArgs(null, command));
    } else if (length < 0 || length > SLOWLOG_KEPT_BYTES) {
      const buf = source.subarray(0, sourceEnd);
      slot.args = slowlogArgs(commandArgs(buf[start] === 0x2a ? parseRequestArgs(buf, start) : decodeInlineArgs(buf, start), command));
    } else {
      let bytes = slot.bytes;
      if (bytes === null || bytes.length < length) {
        // Its own memory (not a slice of Node's shared pool, which it would keep alive).
        bytes = slot.bytes = Buffer.allocUnsafeSlow(Math.max(256, 2 ** Math.ceil(Math.log2(length))));
      }
      source.copy(bytes, 0, start, start + length);
      slot.len = length;
    }
  }

  /** The slot of a new entry (the oldest one's when full), its fields but the arguments set. */
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

/** Newest first over several workers' entries (by time, then id), at most `count` (< 0 = all). */
export function mergeSlowlogs(lists: readonly SlowlogEntry[][], count: number): SlowlogEntry[] {
  const all = lists.flat().sort((a, b) => b.time - a.time || b.id - a.id);
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
