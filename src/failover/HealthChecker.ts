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
 *     once instead of at the next interval.
 */
import { EventEmitter } from 'node:events';
import type { HealthConfig } from '../config/types';
import { createLogger } from '../log';
import { RedisReplyError } from '../errors';
import type { RespClient } from '../resp';
import { connectControl } from './replication';

const log = createLogger('health');

/** After a refused connection, check again this soon (a second refusal marks the address down). */
export const REFUSED_REPROBE_MS = 100;
/** Two refused connections in a row mean the server is gone. */
const REFUSALS_FOR_DOWN = 2;

type CheckResult = 'ok' | 'failed' | 'refused';

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
}

export interface HealthCheckerOptions {
  health: HealthConfig;
  backend?: { username?: string; password?: string };
}

export interface HealthEvents {
  up: [address: string, health: BackendHealth];
  down: [address: string, health: BackendHealth];
}

interface Tracked {
  health: BackendHealth;
  client?: RespClient;
  timer?: NodeJS.Timeout;
  running: boolean;
  /** A check is running (a close event then does not start another). */
  checking?: boolean;
  consecutiveRefusals: number;
}

export class HealthChecker extends EventEmitter {
  private readonly tracked = new Map<string, Tracked>();
  private stopped = false;

  constructor(private readonly options: HealthCheckerOptions) {
    super();
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
        health: {
          address, state: 'up', consecutiveFailures: 0, consecutiveSuccesses: 0, lastError: null, lastErrorAt: null,
          lastOkAt: null, okSince: null, latencyMs: null, since: Date.now(), checks: 0, failures: 0,
        },
      };
      this.tracked.set(address, t);
      this.schedule(t, 0);
    }
  }

  state(address: string): BackendHealthState | undefined {
    return this.tracked.get(address)?.health.state;
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
      }
      const remaining = Math.max(1, timeoutMs - (Date.now() - started));
      try {
        const reply = await t.client.command(['PING'], remaining);
        if (reply !== 'PONG') throw new Error(`unexpected PING reply ${JSON.stringify(reply)}`);
      } catch (err) {
        // An error reply (BUSY, LOADING, ...) still proves the server runs.
        if (!(err instanceof RedisReplyError)) throw err;
      }
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
      this.record(t, false, 0, message, t.consecutiveRefusals >= REFUSALS_FOR_DOWN);
      return refused ? 'refused' : 'failed';
    }
  }

  /** `certain`: the failure alone proves the server is gone (repeated refused connections). */
  private record(t: Tracked, ok: boolean, latencyMs: number, error?: string, certain = false): void {
    const h = t.health;
    h.checks++;
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

  private transition(t: Tracked, state: BackendHealthState): void {
    t.health.state = state;
    t.health.since = Date.now();
    log.warn({ address: t.health.address, state, lastError: t.health.lastError }, `backend ${t.health.address} is ${state}`);
    this.emit(state, t.health.address, { ...t.health });
    this.emit('change', t.health.address, { ...t.health });
  }
}
