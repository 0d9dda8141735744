/**
 * What the failover health checks (src/failover/HealthChecker.ts) need from the data path to tell
 * a hung redis-server from one busy with a long command. From outside the two look the same: the
 * kernel still accepts connections and nothing answers, not even PING. But every client goes
 * through the proxy, so the workers know what the server was given: if one of them sent a command
 * that may run long (a script, KEYS, FLUSHALL, SORT) just as the server fell silent, the silence
 * is explained; if not, the server hangs.
 *
 * "Just as the server fell silent": a command in flight explains the silence only if it was
 * written no more than `SILENCE_SLACK_MS` after the oldest request still unanswered on that
 * server (this worker's connections). Commands sent after a hang began pile up behind it; they
 * cannot be its cause, so a stopped server under a load of scripts is still seen hung (unless a
 * script happened to be the first request after the hang: then the health checker's bound for
 * explained silence decides, see there).
 *
 * Cost: nothing per command. The report is built only when the primary asks (a health check's
 * PING is slow), by walking the requests in flight; the one data-path addition is the time of
 * the last reply read per backend connection (one store per read, the clock already read once
 * per read batch).
 */
import type { BackendActivity } from '../supervisor/messages';
import type { ReplySink } from './ReplySink';

/** Scripts and functions: arbitrary code; past `busy-reply-threshold` Redis answers -BUSY to others. */
const SCRIPTS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);
/**
 * Commands whose running time follows the size of the whole keyspace or of a value, not what
 * crosses the wire: KEYS and FLUSHALL/FLUSHDB walk every key, SORT sorts (and BY/GET looks up)
 * a whole collection. Left out on purpose: commands common in ordinary traffic whose cost is
 * usually small (DEL, LRANGE, SMEMBERS, EXEC, ...): counting them would let a hang under such a
 * load pass for slowness. A DEL of a huge value is not recognized (Redis recommends UNLINK).
 */
const OTHERS = new Set(['keys', 'flushall', 'flushdb', 'sort', 'sort_ro']);

export type SlowKind = 'script' | 'other';

/** The kind of long command `name` (lowercase Redis name) is, or null for an ordinary one. */
export function slowKind(name: string | null | undefined): SlowKind | null {
  if (!name) return null;
  if (SCRIPTS.has(name)) return 'script';
  return OTHERS.has(name) ? 'other' : null;
}

/** A slow command may have started the silence if written at most this long after the oldest unanswered request. */
export const SILENCE_SLACK_MS = 50;

/** The lowercase command name at the start of an encoded command (`*N\r\n$L\r\nNAME...`), or null. */
export function encodedCommandName(command: Buffer, start = 0): string | null {
  let p = command.indexOf(0x0a, start); // end of *N
  if (p < 0 || command[start] !== 0x2a || command[p + 1] !== 0x24) return null;
  const lenEnd = command.indexOf(0x0d, p + 2);
  const len = Number(command.toString('latin1', p + 2, lenEnd));
  p = lenEnd + 2;
  if (!Number.isInteger(len) || len <= 0 || len > 64 || p + len > command.length) return null;
  return command.toString('latin1', p, p + len).toLowerCase();
}

/** A request in flight that may run long (or was abandoned while it ran). */
export interface SlowCandidate {
  command: string;
  kind: SlowKind;
  /** When it was written (ms since the epoch; -1 unknown). */
  at: number;
}

/** The slow command waiting for (sink, tag), if any (asks the sink; called on request only). */
export function slowCandidate(sink: ReplySink | null, tag: number, at: number): SlowCandidate | null {
  const name = sink?.commandName?.(tag) ?? null;
  const kind = slowKind(name);
  return kind === null ? null : { command: name!, kind, at };
}

/** What one connection reports (BackendConnection / DedicatedConnection `activity`). */
export interface ConnectionActivity {
  address: string;
  inFlight: number;
  /** Write time of its oldest unanswered request (ms since the epoch; -1 none or unknown). */
  oldestAt: number;
  /** When a reply was last read on it (ms since the epoch; 0 never). */
  lastReplyAt: number;
  slow: SlowCandidate[];
}

/** One worker's report on the backends `wanted`, merged over its connections to each. */
export function mergeActivity(connections: Iterable<ConnectionActivity>, wanted: readonly string[], now: number): BackendActivity[] {
  const want = new Set(wanted);
  const by = new Map<string, ConnectionActivity[]>();
  for (const c of connections) {
    if (!want.has(c.address)) continue;
    const list = by.get(c.address);
    if (list) list.push(c);
    else by.set(c.address, [c]);
  }
  const out: BackendActivity[] = [];
  for (const [address, list] of by) {
    let inFlight = 0;
    let oldestAt = Infinity;
    let lastReplyAt = 0;
    for (const c of list) {
      inFlight += c.inFlight;
      if (c.oldestAt >= 0 && c.oldestAt < oldestAt) oldestAt = c.oldestAt;
      if (c.lastReplyAt > lastReplyAt) lastReplyAt = c.lastReplyAt;
    }
    let slow: SlowCandidate | null = null;
    for (const c of list) {
      for (const s of c.slow) {
        // sent after the silence began: queued behind it, not its cause
        if (s.at >= 0 && oldestAt !== Infinity && s.at - oldestAt > SILENCE_SLACK_MS) continue;
        if (slow === null || (s.at >= 0 && (slow.at < 0 || s.at < slow.at))) slow = s;
      }
    }
    out.push({
      address,
      inFlight,
      oldestMs: oldestAt === Infinity ? -1 : Math.max(0, now - oldestAt),
      lastReplyMs: lastReplyAt === 0 ? -1 : Math.max(0, now - lastReplyAt),
      slow: slow && { command: slow.command, kind: slow.kind, ms: slow.at < 0 ? -1 : Math.max(0, now - slow.at) },
    });
  }
  return out;
}
