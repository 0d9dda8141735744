/**
 * The reclaim job: walks every shard master with SCAN and UNLINKs the names no client can see any
 * more (plain keys of a dropped family, derived names of older generations or of removed rules),
 * so memory comes back without waiting for TTLs. Paced: small SCAN COUNT batches, one UNLINK per
 * batch (freed in Redis's background thread), and a keys-per-second budget per shard, so clients
 * keep being served between batches.
 *
 * Safety against rule changes: every batch (classify + UNLINK) runs under `lock`, and the admin
 * applies rule changes under the same lock, so a batch never deletes with rules older than the
 * ones in force when its UNLINK reaches Redis. Reclaim is what makes a drop final: a later
 * `remove` cannot bring back what it already unlinked.
 */
import type { KeyRewriteRule, TopologySnapshot } from '../topology/types';
import { createLogger } from '../log';
import { SlotFunction, SlotTagTable } from './derivedName';
import { KeyRewriter } from './KeyRewriter';
import { RespClient, RespValue } from '../resp';
import { AsyncLock } from './AsyncLock';

const log = createLogger('keyrewrite-reclaim');

export interface ReclaimOptions {
  /** SCAN COUNT per batch. */
  batchKeys: number;
  /** Keys examined per second per shard (0 = no pacing beyond yielding between batches). */
  keysPerSecond: number;
}

export interface ShardProgress {
  shard: string;
  address: string;
  scanned: number;
  unlinked: number;
  batches: number;
  done: boolean;
  error?: string;
}

export interface ReclaimStatus {
  state: 'idle' | 'running' | 'done' | 'stopped' | 'failed';
  startedAt?: string;
  finishedAt?: string;
  options?: ReclaimOptions;
  shards: ShardProgress[];
  /** Shards not visited because they were down when the pass started (run it again later). */
  skipped: string[];
}

export const DEFAULT_RECLAIM_OPTIONS: ReclaimOptions = { batchKeys: 200, keysPerSecond: 20000 };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class ReclaimJob {
  private status: ReclaimStatus = { state: 'idle', shards: [], skipped: [] };
  /** Totals over every pass since start (for metrics). */
  readonly totals = { passes: 0, scanned: 0, unlinked: 0 };
  private stopping = false;
  private running: Promise<void> | undefined;
  private rewriter: { rules: readonly KeyRewriteRule[]; rw: KeyRewriter } | undefined;

  constructor(
    private readonly snapshot: () => TopologySnapshot,
    private readonly slotOf: SlotFunction,
    private readonly table: () => SlotTagTable,
    /** Shared with the admin: rule changes and reclaim batches exclude each other. */
    readonly lock: AsyncLock,
    private readonly backendAuth: { username?: string; password?: string } = {},
  ) {}

  get current(): ReclaimStatus {
    return structuredClone(this.status);
  }

  get isRunning(): boolean {
    return this.status.state === 'running';
  }

  /** Start a pass over every shard; refused while one runs. Returns at once. */
  start(options: Partial<ReclaimOptions> = {}): ReclaimStatus {
    if (this.isRunning) return this.current;
    const opts = { ...DEFAULT_RECLAIM_OPTIONS, ...options };
    if (!(opts.batchKeys >= 1)) opts.batchKeys = DEFAULT_RECLAIM_OPTIONS.batchKeys;
    if (!(opts.keysPerSecond >= 0)) opts.keysPerSecond = DEFAULT_RECLAIM_OPTIONS.keysPerSecond;
    const all = this.snapshot().shards;
    const shards = all.filter((s) => s.state !== 'down');
    this.stopping = false;
    this.status = {
      state: 'running',
      startedAt: new Date().toISOString(),
      options: opts,
      shards: shards.map((s) => ({ shard: s.name, address: s.master, scanned: 0, unlinked: 0, batches: 0, done: false })),
      skipped: all.filter((s) => s.state === 'down').map((s) => s.name),
    };
    this.totals.passes++;
    log.info({ options: opts, shards: shards.length }, 'reclaim started');
    this.running = Promise.all(this.status.shards.map((p) => this.runShard(p, opts))).then(() => {
      const failed = this.status.shards.some((p) => p.error);
      this.status.state = this.stopping ? 'stopped' : failed ? 'failed' : 'done';
      this.status.finishedAt = new Date().toISOString();
      const totals = this.status.shards.reduce((a, p) => ({ scanned: a.scanned + p.scanned, unlinked: a.unlinked + p.unlinked }), { scanned: 0, unlinked: 0 });
      log.info({ state: this.status.state, ...totals }, 'reclaim finished');
    });
    return this.current;
  }

  /** Stop after the batches in flight; resolves when the job is idle. */
  async stop(): Promise<ReclaimStatus> {
    this.stopping = true;
    await this.running;
    return this.current;
  }

  /** Resolves when the current pass (if any) has finished. */
  async finished(): Promise<ReclaimStatus> {
    await this.running;
    return this.current;
  }

  private rewriterFor(rules: readonly KeyRewriteRule[]): KeyRewriter {
    if (this.rewriter?.rules !== rules) this.rewriter = { rules, rw: new KeyRewriter(rules, this.slotOf, this.table()) };
    return this.rewriter.rw;
  }

  private async runShard(progress: ShardProgress, opts: ReclaimOptions): Promise<void> {
    // One connection per pass: a drop ends the pass on this shard (reported, not retried).
    const conn = new RespClient(progress.address, { ...this.backendAuth, connectTimeoutMs: 5000, reconnect: false });
    try {
      await conn.connect();
      let cursor = '0';
      do {
        if (this.stopping) return;
        const began = Date.now();
        const reply = (await conn.command(['SCAN', cursor, 'COUNT', String(opts.batchKeys)])) as RespValue[];
        cursor = (reply[0] as Buffer).toString();
        const names = reply[1] as Buffer[];
        progress.scanned += names.length;
        this.totals.scanned += names.length;
        progress.batches++;
        if (names.length > 0) {
          await this.lock.run(async () => {
            const rw = this.rewriterFor(this.snapshot().keyRewrite);
            const dead = names.filter((n) => rw.isDead(n));
            if (dead.length > 0) {
              const unlinked = (await conn.command(['UNLINK', ...dead])) as number;
              progress.unlinked += unlinked;
              this.totals.unlinked += unlinked;
            }
          });
        }
        // Pace: a batch of n keys takes at least n / keysPerSecond seconds; always yield.
        const budgetMs = opts.keysPerSecond > 0 ? (names.length * 1000) / opts.keysPerSecond : 0;
        const wait = Math.max(1, budgetMs - (Date.now() - began));
        await sleep(wait);
      } while (cursor !== '0');
      progress.done = true;
    } catch (err) {
      progress.error = (err as Error).message;
      log.warn({ shard: progress.shard, address: progress.address, err: progress.error }, 'reclaim failed on a shard');
    } finally {
      conn.close();
    }
  }
}
