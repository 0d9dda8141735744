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
 * An entry whose arguments are still the request's bytes (one copy): under overload most
 * commands can be slow, and only the newest maxLen are ever read, so the arguments are
 * decoded when the entry is read (`get`), not when it is added.
 */
class PendingEntry {
  constructor(
    readonly id: number,
    readonly time: number,
    readonly durationUs: number,
    readonly request: Buffer,
    /** The command's name (`a|b` for a subcommand): logged alone when the bytes are not its request. */
    readonly command: string,
    readonly client: string,
    readonly name: string,
  ) {}

  entry(): SlowlogEntry {
    const req = this.request;
    let argv = req[0] === 0x2a ? parseRequestArgs(req, 0) : decodeInlineArgs(req, 0);
    // A re-encoded command (inline with quotes, key rewrite) was not read from the logged bytes.
    if (argv === null || argv.length === 0 || argv[0].toString('latin1').toLowerCase() !== this.command.split('|')[0]) {
      argv = [Buffer.from(this.command.replace('|', ' '))];
    }
    return { id: this.id, time: this.time, durationUs: this.durationUs, args: slowlogArgs(argv), client: this.client, name: this.name };
  }
}

export class SlowLog {
  /** A ring: `ring[(start + i) % ring.length]` is the i-th oldest of `count` entries (O(1) add). */
  private ring: (SlowlogEntry | PendingEntry | undefined)[] = [];
  private start = 0;
  private count = 0;
  private nextId = 0;

  constructor(
    public maxLen: number,
    /** Makes ids unique across workers: id = local sequence * stride + offset. */
    private readonly idStride = 1,
    private readonly idOffset = 0,
  ) {}

  add(durationUs: number, argv: readonly Buffer[], client: string, name: string, nowMs = Date.now()): void {
    if (this.maxLen <= 0) return;
    this.push({
      id: this.nextId++ * this.idStride + this.idOffset,
      time: Math.floor(nowMs / 1000),
      durationUs: Math.round(durationUs),
      args: slowlogArgs(argv),
      client,
      name,
    });
  }

  /**
   * An entry from a copy of the request's bytes (RESP or inline), decoded when read.
   * `command` is the command's name, logged alone when the bytes turn out not to be its request.
   */
  addRequest(durationUs: number, request: Buffer, command: string, client: string, name: string, nowMs = Date.now()): void {
    if (this.maxLen <= 0) return;
    const id = this.nextId++ * this.idStride + this.idOffset;
    this.push(new PendingEntry(id, Math.floor(nowMs / 1000), Math.round(durationUs), request, command, client, name));
  }

  private push(entry: SlowlogEntry | PendingEntry): void {
    if (this.ring.length !== this.maxLen) this.resize();
    if (this.count < this.maxLen) {
      this.ring[(this.start + this.count) % this.maxLen] = entry;
      this.count++;
    } else {
      this.ring[this.start] = entry; // overwrite the oldest
      this.start = (this.start + 1) % this.maxLen;
    }
  }

  get length(): number {
    return this.count;
  }

  /** Newest first; count < 0 = all. */
  get(count = 10): SlowlogEntry[] {
    const n = count < 0 ? this.count : Math.min(count, this.count);
    const out: SlowlogEntry[] = [];
    for (let i = 0; i < n; i++) {
      const at = (this.start + this.count - 1 - i) % this.ring.length;
      let e = this.ring[at]!;
      if (e instanceof PendingEntry) e = this.ring[at] = e.entry();
      out.push(e);
    }
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

  /** Keep the newest entries that fit in a ring of maxLen. */
  private resize(): void {
    const kept = this.get(-1).slice(0, Math.max(0, this.maxLen)).reverse();
    this.ring = new Array(Math.max(0, this.maxLen));
    kept.forEach((e, i) => (this.ring[i] = e));
    this.start = 0;
    this.count = kept.length;
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
