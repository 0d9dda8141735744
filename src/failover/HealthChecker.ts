/**
 * Health checks for every backend (masters and replicas). Each address has its own connection
 * and its own loop: PING every `intervalMs`, each check bounded by `timeoutMs` (connect included).
 * An address turns 'down' after `downAfter` consecutive failures and 'up' again after `upAfter`
 * consecutive successes; those transitions are emitted as 'down'/'up' events (and 'change').
 * A failed check drops the connection so the next one reconnects from scratch.
 */
import { EventEmitter } from 'node:events';
import type { HealthConfig } from '../config/types';
import { createLogger } from '../log';
import type { RespClient } from '../resp';
import { connectControl } from './replication';

const log = createLogger('health');

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
    t.timer = setTimeout(async () => {
      const started = Date.now();
      await this.check(t);
      this.schedule(t, Math.max(0, this.options.health.intervalMs - (Date.now() - started)));
    }, delayMs);
    t.timer.unref?.();
  }

  private async check(t: Tracked): Promise<boolean> {
    const { timeoutMs } = this.options.health;
    const started = Date.now();
    try {
      if (!t.client || t.client.isClosed) {
        t.client = await connectControl(t.health.address, { timeoutMs, ...this.options.backend });
      }
      const remaining = Math.max(1, timeoutMs - (Date.now() - started));
      const reply = await t.client.command(['PING'], remaining);
      if (reply !== 'PONG') throw new Error(`unexpected PING reply ${JSON.stringify(reply)}`);
      if (!t.running) return true;
      this.record(t, true, Date.now() - started);
      return true;
    } catch (err) {
      t.client?.close();
      t.client = undefined;
      if (!t.running) return false;
      this.record(t, false, 0, (err as Error).message);
      return false;
    }
  }

  private record(t: Tracked, ok: boolean, latencyMs: number, error?: string): void {
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
      if (h.state === 'up' && h.consecutiveFailures >= this.options.health.downAfter) this.transition(t, 'down');
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
