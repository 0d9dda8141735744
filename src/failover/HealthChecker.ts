/**
 * Health checks for every backend (masters and replicas). Each address has its own connection
 * and its own loop: PING every `intervalMs`, each check bounded by `timeoutMs` (connect included).
 * An address turns 'down' after `downAfter` consecutive failures and 'up' again after `upAfter`
 * consecutive successes; those transitions are emitted as 'down'/'up' events (and 'change').
 * A failed check drops the connection so the next one reconnects from scratch.
 *
 * Surer and faster than counting PINGs alone:
 *   - any reply proves the server runs: an error reply (`-BUSY` during a long script, `-LOADING`)
 *     counts as alive, so a busy shard is never marked down for answering BUSY;
 *   - a refused connection is a strong signal (nothing listens: the process died): two refusals
 *     in a row, `REFUSED_REPROBE_MS` apart, mark the address down at once;
 *   - the control connection closing (a killed server's kernel closes it) triggers a check at
 *     once instead of at the next interval;
 *   - a silent server is hung or busy, and from outside the two look the same (the kernel still
 *     accepts connections; a long script before `busy-reply-threshold`, a big KEYS, answer
 *     nothing). The proxy's workers know what the server was given, so when a PING is slow
 *     (`SUSPECT_MS`) the checker asks them (`explain`, src/proxy/BackendActivity.ts) every
 *     `POLL_MS` while it lasts:
 *       · a command that may run long in flight since the silence began → slow, not a failure:
 *         the PING keeps waiting (a script up to the server's busy-reply-threshold +
 *         `timeoutMs`, after which a running server answers -BUSY; KEYS, FLUSHALL, SORT up to
 *         `slowCommandMaxMs`), then it is a hang after all;
 *       · nothing explains it, a client request has waited on it for `timeoutMs` and no worker
 *         got any reply since → hung: down at once (the workers' oldest waiting request dates
 *         the silence, so it counts from the hang, not from the PING's phase);
 *       · no client request waits on it (an idle server, a replica), a worker got a reply since,
 *         or not every worker answered → the PING timeout is a plain failure (the `downAfter`
 *         rule): nobody waits on an idle server, and its hiccups must not fail it over;
 *       · once a PING's silence was explained, late or partial answers keep it explained until
 *         that command's limit (on a loaded machine the worker holding it may answer late).
 *     Without `explain` (no workers: tests, tools) every timeout is a plain failure.
 *   Why not /proc or the process state: the backend is usually on another host.
 */
import { EventEmitter } from 'node:events';
import type { HealthConfig } from '../config/types';
import { createLogger } from '../log';
import { RedisReplyError } from '../errors';
import type { RespClient } from '../resp';
import type { ActivityAnswers, BackendActivity } from '../supervisor/messages';
import { connectControl } from './replication';

const log = createLogger('health');

/** After a refused connection, check again this soon (a second refusal marks the address down). */
export const REFUSED_REPROBE_MS = 100;
/** Two refused connections in a row mean the server is gone. */
const REFUSALS_FOR_DOWN = 2;
/** A PING unanswered this long makes the checker ask the workers what the server is doing. */
export const SUSPECT_MS = 250;
/** While the server stays silent, ask the workers again this often. */
export const POLL_MS = 200;
/** How long the workers get to answer (an unanswered question counts as no evidence). */
const EXPLAIN_TIMEOUT_MS = 400;
/** Redis's default busy-reply-threshold (lua-time-limit), when CONFIG GET is not allowed. */
const DEFAULT_BUSY_THRESHOLD_MS = 5000;
const DEFAULT_SLOW_COMMAND_MAX_MS = 15_000;

type CheckResult = 'ok' | 'failed' | 'refused';

/** Asks the workers what they have in flight on `address` (one entry per worker with something on it; null: no worker answered). */
export type Explainer = (address: string, timeoutMs: number) => Promise<ActivityAnswers | null>;

/** A failed check: why, and whether it alone proves the server down. */
class CheckFailure extends Error {
  constructor(message: string, readonly certain: boolean) {
    super(message);
  }
}

export type BackendHealthState = 'up' | 'down';

export interface BackendHealth {
  address: string;
  state: BackendHealthState;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** The last failure's message (kept after recovery, for diagnosis); null if none yet. */
  lastError: string | null;
  lastErrorAt: number | null;
  lastOkAt: number | null;
  /** Start of the current run of successful checks; null while failing. */
  okSince: number | null;
  /** Round trip of the last successful PING, ms. */
  latencyMs: number | null;
  /** When the state last changed (epoch ms). */
  since: number;
  checks: number;
  failures: number;
  /**
   * The server is silent but busy, not hung: the command that may run long the workers have in
   * flight on it (e.g. `eval`), and since when the checker knows (epoch ms); null otherwise.
   */
  slow: { command: string; since: number } | null;
  /** Silences explained by a long command so far (each would have been a failure before). */
  slowEpisodes: number;
}

export interface HealthCheckerOptions {
  health: HealthConfig;
  backend?: { username?: string; password?: string };
  /** The workers' view of a silent server (src/failover/WorkerActivity.ts); without it a timeout is a plain failure. */
  explain?: Explainer;
}

export interface HealthEvents {
  up: [address: string, health: BackendHealth];
  down: [address: string, health: BackendHealth];
  /** Silent with a long command in flight (`command`), or not any more (null). */
  slow: [address: string, command: string | null];
}

interface Tracked {
  health: BackendHealth;
  client?: RespClient;
  timer?: NodeJS.Timeout;
  running: boolean;
  /** A check is running (a close event then does not start another). */
  checking?: boolean;
  consecutiveRefusals: number;
  /** The server's busy-reply-threshold (read at connect), ms. */
  busyThresholdMs: number;
  /** When the PING now waiting was sent (0: none waiting). */
  pingSentAt: number;
  /** While health.slow is set: when the explanation runs out (epoch ms; see judge). */
  slowUntil: number;
}

export class HealthChecker extends EventEmitter {
  private readonly tracked = new Map<string, Tracked>();
  private stopped = false;
  /** The workers' view of a silent server (none: every timeout is a plain failure). */
  private readonly explain: Explainer | undefined;

  constructor(private readonly options: HealthCheckerOptions) {
    super();
    this.explain = options.explain;
  }

  /** Watch exactly these addresses: new ones start 'up' (innocent until proven down), gone ones stop. */
  setAddresses(addresses: Iterable<string>): void {
    const wanted = new Set(addresses);
    for (const [address, t] of this.tracked) {
      if (!wanted.has(address)) {
        t.running = false;
        if (t.timer) clearTimeout(t.timer);
        t.client?.close();
        this.tracked.delete(address);
      }
    }
    for (const address of wanted) {
      if (this.tracked.has(address) || this.stopped) continue;
      const t: Tracked = {
        running: true,
        consecutiveRefusals: 0,
        busyThresholdMs: DEFAULT_BUSY_THRESHOLD_MS,
        pingSentAt: 0,
        slowUntil: 0,
        health: {
          address, state: 'up', consecutiveFailures: 0, consecutiveSuccesses: 0, lastError: null, lastErrorAt: null,
          lastOkAt: null, okSince: null, latencyMs: null, since: Date.now(), checks: 0, failures: 0, slow: null, slowEpisodes: 0,
        },
      };
      this.tracked.set(address, t);
      this.schedule(t, 0);
    }
  }

  state(address: string): BackendHealthState | undefined {
    return this.tracked.get(address)?.health.state;
  }

  /**
   * The server has not answered a PING for `SUSPECT_MS` (hung or busy: being judged). Other
   * control work (e.g. the replica repointing pass) should not wait on it meanwhile.
   */
  isSilent(address: string): boolean {
    const t = this.tracked.get(address);
    return !!t && t.pingSentAt > 0 && Date.now() - t.pingSentAt >= SUSPECT_MS;
  }

  isUp(address: string): boolean {
    return this.tracked.get(address)?.health.state === 'up';
  }

  get(address: string): BackendHealth | undefined {
    const t = this.tracked.get(address);
    return t && { ...t.health };
  }

  /** Every watched backend's health, for /topology, /stats, /metrics and INFO. */
  report(): BackendHealth[] {
    return [...this.tracked.values()].map((t) => ({ ...t.health })).sort((a, b) => a.address.localeCompare(b.address));
  }

  stop(): void {
    this.stopped = true;
    this.setAddresses([]);
  }

  private schedule(t: Tracked, delayMs: number): void {
    if (!t.running) return;
    if (t.timer) clearTimeout(t.timer);
    t.timer = setTimeout(async () => {
      t.timer = undefined;
      const started = Date.now();
      t.checking = true;
      const result = await this.check(t);
      t.checking = false;
      const reprobe = result === 'refused' && t.health.state === 'up';
      this.schedule(t, reprobe ? REFUSED_REPROBE_MS : Math.max(0, this.options.health.intervalMs - (Date.now() - started)));
    }, delayMs);
    t.timer.unref?.();
  }

  private async check(t: Tracked): Promise<CheckResult> {
    const { timeoutMs } = this.options.health;
    const started = Date.now();
    let connecting = false;
    try {
      if (!t.client || t.client.isClosed) {
        connecting = true;
        const client = await connectControl(t.health.address, { timeoutMs, ...this.options.backend });
        connecting = false;
        t.client = client;
        // A killed server's kernel closes the connection: check at once, not at the next interval.
        client.once('close', () => {
          if (t.client === client && t.running && !t.checking) this.schedule(t, 0);
        });
        // How long a script may run before the server answers -BUSY (bounds a script's silence).
        client.command(['CONFIG', 'GET', 'busy-reply-threshold'], this.longestWaitMs(t)).then(
          (r) => {
            const ms = Array.isArray(r) ? Number(r[1]) : NaN;
            if (Number.isFinite(ms) && ms > 0) t.busyThresholdMs = ms;
          },
          () => undefined, // not allowed (ACL) or not answered: keep Redis's default
        );
      }
      await this.ping(t, t.client, started);
      if (!t.running) return 'ok';
      t.consecutiveRefusals = 0;
      this.record(t, true, Date.now() - started);
      return 'ok';
    } catch (err) {
      t.client?.close();
      t.client = undefined;
      const message = (err as Error).message;
      const refused = connecting && /ECONNREFUSED/.test(message);
      if (!t.running) return refused ? 'refused' : 'failed';
      t.consecutiveRefusals = refused ? t.consecutiveRefusals + 1 : 0;
      const certain = t.consecutiveRefusals >= REFUSALS_FOR_DOWN || (err instanceof CheckFailure && err.certain);
      this.record(t, false, 0, message, certain);
      return refused ? 'refused' : 'failed';
    }
  }

  /** The longest a PING may wait while the server's silence is explained. */
  private longestWaitMs(t: Tracked): number {
    const h = this.options.health;
    return Math.max(t.busyThresholdMs + h.timeoutMs, h.slowCommandMaxMs ?? DEFAULT_SLOW_COMMAND_MAX_MS) + h.timeoutMs;
  }

  /** PING; resolves when the server answered (an error reply too), throws when it did not in time (see the header). */
  private async ping(t: Tracked, client: RespClient, started: number): Promise<void> {
    const { timeoutMs } = this.options.health;
    const sentAt = Date.now();
    t.pingSentAt = sentAt;
    try {
      await this.pingAndJudge(t, client, sentAt, Math.max(1, timeoutMs - (sentAt - started)));
    } finally {
      t.pingSentAt = 0;
    }
  }

  /** Without `explain`, a plain timeout; with it, ask the workers while the PING waits. */
  private async pingAndJudge(t: Tracked, client: RespClient, sentAt: number, budget: number): Promise<void> {
    const explain = this.explain;
    if (!explain) return this.settle(client.command(['PING'], budget));
    let answered = false;
    const reply = this.settle(client.command(['PING'], this.longestWaitMs(t))).finally(() => (answered = true));
    reply.catch(() => undefined); // awaited below, or dropped with the connection
    let wait = Math.min(SUSPECT_MS, budget);
    for (;;) {
      if (await within(reply, wait)) return reply;
      const activity = await explain(t.health.address, EXPLAIN_TIMEOUT_MS).catch(() => null);
      if (answered) return reply;
      const verdict = this.judge(t, Date.now() - sentAt, activity);
      if (verdict !== null) throw verdict;
      wait = POLL_MS;
    }
  }

  /** A PING reply: PONG, or any error reply (BUSY, LOADING: the server runs). */
  private async settle(reply: Promise<unknown>): Promise<void> {
    try {
      const r = await reply;
      if (r !== 'PONG') throw new Error(`unexpected PING reply ${JSON.stringify(r)}`);
    } catch (err) {
      if (!(err instanceof RedisReplyError)) throw err;
    }
  }

  /**
   * The PING has waited `age` ms: what the workers' `activity` makes of the silence. null = keep
   * waiting (slow, or not yet long enough); a CheckFailure = give up (certain: hung).
   */
  private judge(t: Tracked, age: number, answers: ActivityAnswers | null): CheckFailure | null {
    const h = this.options.health;
    const { timeoutMs } = h;
    // A silence this PING already saw explained stays explained until that command's limit when
    // the workers answer late or in part (a loaded machine): the worker that holds the long
    // command may be the one that did not answer, and dropping the explanation would drop this
    // proxy's veto of a failover (src/coordination/HealthWitness.ts).
    const explained = t.health.slow !== null && Date.now() < t.slowUntil;
    if (answers === null) {
      if (explained) return null;
      return age >= timeoutMs ? new CheckFailure(`PING timed out after ${timeoutMs} ms (no worker answered)`, false) : null;
    }
    let slow: BackendActivity['slow'] = null;
    let oldestMs = -1;
    let lastReplyMs = Infinity;
    for (const a of answers.backends) {
      if (a.slow && (!slow || a.slow.ms > slow.ms)) slow = a.slow;
      if (a.inFlight > 0) oldestMs = Math.max(oldestMs, a.oldestMs);
      if (a.lastReplyMs >= 0) lastReplyMs = Math.min(lastReplyMs, a.lastReplyMs);
    }
    if (slow) {
      const limit = slow.kind === 'script' ? t.busyThresholdMs + timeoutMs : (h.slowCommandMaxMs ?? DEFAULT_SLOW_COMMAND_MAX_MS);
      const silentFor = Math.max(age, slow.ms);
      if (silentFor >= limit) {
        return new CheckFailure(`silent for ${silentFor} ms with ${slow.command.toUpperCase()} in flight, past the ${limit} ms such a command is given: hung`, true);
      }
      t.slowUntil = Date.now() + (limit - silentFor);
      if (t.health.slow?.command !== slow.command) {
        if (!t.health.slow) t.health.slowEpisodes++;
        this.setSlow(t, { command: slow.command, since: Date.now() });
        log.info({ address: t.health.address, command: slow.command, silentMs: silentFor }, `backend ${t.health.address} is silent with ${slow.command.toUpperCase()} in flight: slow, not down`);
      }
      return null;
    }
    if (explained && !answers.complete) return null;
    this.setSlow(t, null);
    // Clients wait on it: a request written `oldestMs` ago is unanswered, and no worker got any
    // reply since. An idle server (no client waiting) is judged by the plain rule: nobody is hurt
    // by the slower verdict, and a hiccup of an idle server cannot fail it over.
    const silence = Math.min(oldestMs, lastReplyMs);
    // A worker that did not answer may hold the explanation: then only the plain timeout rule.
    if (silence >= timeoutMs && answers.complete) {
      const waiting = answers.backends.reduce((n, a) => n + a.inFlight, 0);
      return new CheckFailure(`hung: ${waiting} requests waiting, the oldest ${oldestMs} ms, no reply for ${silence} ms (PING sent ${age} ms ago) and no command in flight that may run long`, true);
    }
    if (age >= timeoutMs) {
      const why = !answers.complete ? 'not every worker answered' : oldestMs < 0 ? 'no client request waiting on it' : `a worker got a reply ${lastReplyMs} ms ago`;
      return new CheckFailure(`PING timed out after ${timeoutMs} ms (${why})`, false);
    }
    return null;
  }

  /** `certain`: the failure alone proves the server is gone (repeated refused connections). */
  private record(t: Tracked, ok: boolean, latencyMs: number, error?: string, certain = false): void {
    const h = t.health;
    h.checks++;
    this.setSlow(t, null);
    if (ok) {
      if (h.consecutiveSuccesses === 0) h.okSince = Date.now();
      h.consecutiveSuccesses++;
      h.consecutiveFailures = 0;
      h.lastOkAt = Date.now();
      h.latencyMs = latencyMs;
      if (h.state === 'down' && h.consecutiveSuccesses >= this.options.health.upAfter) this.transition(t, 'up');
    } else {
      h.failures++;
      h.consecutiveFailures++;
      h.consecutiveSuccesses = 0;
      h.okSince = null;
      h.lastError = error ?? 'unknown error';
      h.lastErrorAt = Date.now();
      if (h.state === 'up' && (certain || h.consecutiveFailures >= this.options.health.downAfter)) this.transition(t, 'down');
    }
  }

  /** Slow (silent with a long command in flight) or not any more: 'slow' (address, command or null). */
  private setSlow(t: Tracked, slow: BackendHealth['slow']): void {
    const was = t.health.slow;
    t.health.slow = slow;
    if ((was === null) !== (slow === null)) this.emit('slow', t.health.address, slow?.command ?? null);
  }

  private transition(t: Tracked, state: BackendHealthState): void {
    t.health.state = state;
    t.health.since = Date.now();
    log.warn({ address: t.health.address, state, lastError: t.health.lastError }, `backend ${t.health.address} is ${state}`);
    this.emit(state, t.health.address, { ...t.health });
    this.emit('change', t.health.address, { ...t.health });
  }
}

/** True if `p` settled within `ms` (its outcome is read by awaiting it). */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.then(() => true, () => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
