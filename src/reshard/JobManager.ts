/**
 * Resharding jobs, run by the primary. A job turns a request (rebalance, move slots, remove a
 * shard) into slot moves (planner.ts) and executes them:
 *
 *   1. one topology change marks every move migrating A→B; it is persisted and every worker routes
 *      by it (`apply` resolves only then) BEFORE any key moves;
 *   2. each source is scanned once (SourceScan.ts), its keys in moving slots MIGRATEd in paced
 *      batches; workers meanwhile move a key on access before running a command on it;
 *   3. when a source's pass ends, its slots belong to their destination (epoch+1) and leave
 *      `migrations`; a drained shard is dropped last.
 *
 * Durable: the migrating state lives in the persisted topology, so a primary that restarts finds
 * the unfinished moves and resumes them (`resume()`); jobs.json keeps the job list across restarts.
 * --no-copy reassigns slots at once (cache mode) and then deletes the old owner's leftovers in
 * the background so stale values can never come back if the slots return.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { TopologyError } from '../errors';
import { createLogger, Logger } from '../log';
import { writeFileAtomic } from '../topology/TopologyStore';
import type { TopologySnapshot } from '../topology/types';
import {
  activateMigrations, addShard, assertShardsUp, countSlots, dropShard, finishMigrations, Move, NewShard, planMoveSlots, planRebalance, planRemoveShard,
  reassignSlots, setShardState, startMigrations,
} from './planner';
import { Pacer, ScanStopped, scanSource, SlotFilter } from './SourceScan';
import { RespClient } from '../resp';

export type JobKind = 'rebalance' | 'move-slots' | 'remove-shard' | 'resume';
export type JobState = 'running' | 'done' | 'failed';

export interface JobInfo {
  id: number;
  kind: JobKind;
  state: JobState;
  noCopy: boolean;
  /** What was asked: shard name for remove-shard, "FIRST-LAST SHARD" for move-slots. */
  target?: string;
  createdAt: string;
  finishedAt?: string;
  error?: string;
  /** Times the job was picked up again after a restart. */
  resumed: number;
  slotsTotal: number;
  slotsDone: number;
  moves: number;
  keysScanned: number;
  /** Keys on the sources when their pass started (SCAN covers them all): progress basis. */
  keysToScan: number;
  keysMoved: number;
  /** Stale copies deleted: on sources after BUSYKEY, on destinations before they receive slots. */
  staleDeleted: number;
  keysPerSecond: number;
  /** Seconds left, from the scan rate so far; null until there is a rate. */
  etaSeconds: number | null;
  elapsedMs: number;
}

export interface ReshardSettings {
  batchKeys: number;
  maxKeysPerSecond: number;
  /** SCAN COUNT per call. */
  scanCount?: number;
  migrateTimeoutMs?: number;
  /** Between announcing migrations and moving keys: lets requests already sent to the old owner finish. */
  settleMs?: number;
  /** Retries of a failing SCAN/MIGRATE batch (exponential backoff, up to 2 s apart) before the job fails. */
  retries?: number;
  backend: { username: string; password: string };
}

export interface JobManagerDeps {
  /** The current topology (the primary's TopologyStore.snapshot). */
  snapshot: () => TopologySnapshot;
  /**
   * Apply a change: bump the epoch, persist, push to every worker, and resolve once all of them
   * route by it. (TopologyStore.update + the supervisor's push-and-wait-for-acks.)
   */
  apply: (mutate: (draft: TopologySnapshot) => TopologySnapshot) => Promise<TopologySnapshot>;
  filter: SlotFilter;
  settings: () => ReshardSettings;
  stateDir: string;
  /** Where the job list is kept instead of stateDir/jobs.json (a fleet: etcd, src/coordination). */
  jobStore?: { load(): JobInfo[] | null; save(infos: JobInfo[]): void };
  log?: Logger;
}

const JOBS_FILE = 'jobs.json';
const KEEP_JOBS = 50;

class Job {
  readonly info: JobInfo;
  startedAt = Date.now();
  runStartedAt = Date.now();

  constructor(info: JobInfo) {
    this.info = info;
  }

  snapshotInfo(): JobInfo {
    const i = this.info;
    if (i.state === 'running') {
      i.elapsedMs = Date.now() - this.startedAt;
      const seconds = i.elapsedMs / 1000;
      i.keysPerSecond = seconds > 0 ? Math.round(i.keysMoved / seconds) : 0;
      if (i.keysScanned > 0 && i.keysToScan > 0) {
        // The scan rate of this run (a resumed job scans its sources again from the start).
        const scanSeconds = (Date.now() - this.runStartedAt) / 1000;
        const left = Math.max(0, i.keysToScan - i.keysScanned);
        i.etaSeconds = Math.round(((scanSeconds * left) / i.keysScanned) * 10) / 10;
      } else if (i.slotsTotal > 0 && i.slotsDone === i.slotsTotal) i.etaSeconds = 0;
    }
    return { ...i };
  }

}

export class JobManager extends EventEmitter {
  private readonly jobs: Job[] = [];
  private running: Job | null = null;
  private nextId = 1;
  private stopping = false;
  private readonly log: Logger;
  private readonly pacer: Pacer;
  private idle: Promise<void> = Promise.resolve();
  /** Since this process started (metrics). */
  readonly totals = { keysMoved: 0, staleDeleted: 0, jobsDone: 0, jobsFailed: 0 };

  constructor(private readonly deps: JobManagerDeps) {
    super();
    this.log = deps.log ?? createLogger('reshard');
    this.pacer = new Pacer(deps.settings().maxKeysPerSecond);
    this.loadJobs();
  }

  private get file(): string {
    return path.join(this.deps.stateDir, JOBS_FILE);
  }

  private loadJobs(): void {
    if (this.deps.jobStore) {
      const saved = this.deps.jobStore.load() ?? [];
      for (const info of saved) this.jobs.push(new Job(info));
      this.nextId = Math.max(0, ...saved.map((j) => j.id)) + 1;
      return;
    }
    if (!fs.existsSync(this.file)) return;
    try {
      const saved = JSON.parse(fs.readFileSync(this.file, 'utf8')) as JobInfo[];
      for (const info of saved) this.jobs.push(new Job(info));
      this.nextId = Math.max(0, ...saved.map((j) => j.id)) + 1;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'jobs.json unreadable; starting a fresh job list');
    }
  }

  private saveJobs(): void {
    const infos = this.jobs.slice(-KEEP_JOBS).map((j) => j.snapshotInfo());
    if (this.deps.jobStore) return this.deps.jobStore.save(infos);
    writeFileAtomic(this.file, JSON.stringify(infos, null, 2));
  }

  list(): JobInfo[] {
    return this.jobs.map((j) => j.snapshotInfo());
  }

  get(id: number): JobInfo | undefined {
    return this.jobs.find((j) => j.info.id === id)?.snapshotInfo();
  }

  /** Resolves when no job is running. */
  whenIdle(): Promise<void> {
    return this.idle;
  }

  /** Stop between batches (shutdown); the persisted migrations let the next start resume. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.idle.catch(() => undefined);
  }

  /* ---------- requests ---------- */

  async addShard(shard: NewShard): Promise<TopologySnapshot> {
    return this.deps.apply((t) => addShard(t, shard));
  }

  rebalance(options: { noCopy?: boolean } = {}): JobInfo {
    const t = this.deps.snapshot();
    // Validate now (unless unfinished moves must run first), so the caller gets the error.
    if (t.migrations.length === 0 && !options.noCopy) assertShardsUp(t, planRebalance(t));
    return this.start('rebalance', !!options.noCopy, undefined, (t) => planRebalance(t));
  }

  moveSlots(first: number, last: number, shard: string, options: { noCopy?: boolean } = {}): JobInfo {
    const moves = planMoveSlots(this.deps.snapshot(), first, last, shard);
    if (!options.noCopy) assertShardsUp(this.deps.snapshot(), moves);
    return this.start('move-slots', !!options.noCopy, `${first}-${last} ${shard}`, (t) => planMoveSlots(t, first, last, shard));
  }

  removeShard(name: string, options: { noCopy?: boolean } = {}): JobInfo {
    const moves = planRemoveShard(this.deps.snapshot(), name);
    if (!options.noCopy) assertShardsUp(this.deps.snapshot(), moves);
    return this.start('remove-shard', !!options.noCopy, name, (t) => planRemoveShard(t, name), name);
  }

  /**
   * At start: pick up what a previous run left (moves still migrating, shards still draining).
   * Returns the job, or null when there is nothing to finish.
   */
  resume(): JobInfo | null {
    const t = this.deps.snapshot();
    const draining = t.shards.filter((s) => s.state === 'draining');
    if (t.migrations.length === 0 && draining.length === 0) {
      this.markInterruptedJobs(null);
      return null;
    }
    const previous = [...this.jobs].reverse().find((j) => j.info.state === 'running');
    const job = this.start(previous?.info.kind ?? 'resume', false, previous?.info.target, null, undefined, previous ?? undefined);
    this.markInterruptedJobs(job.id);
    return job;
  }

  private markInterruptedJobs(except: number | null): void {
    let changed = false;
    for (const j of this.jobs) {
      if (j.info.state === 'running' && j.info.id !== except) {
        j.info.state = 'failed';
        j.info.error = 'interrupted by a restart';
        changed = true;
      }
    }
    if (changed) this.saveJobs();
  }

  private start(kind: JobKind, noCopy: boolean, target: string | undefined, plan: ((t: TopologySnapshot) => Move[]) | null, drain?: string, reuse?: Job): JobInfo {
    if (this.running) throw new TopologyError(`job ${this.running.info.id} (${this.running.info.kind}) is running; wait for it to finish`);
    if (this.stopping) throw new TopologyError('shutting down');
    let job: Job;
    if (reuse) {
      job = reuse;
      job.info.resumed++;
      job.startedAt = Date.now() - job.info.elapsedMs;
      job.runStartedAt = Date.now();
      job.info.keysScanned = 0;
      job.info.keysToScan = 0;
      // What is left is in the topology's migrations; the run adds it back.
      job.info.slotsTotal = job.info.slotsDone;
    } else {
      job = new Job({
        id: this.nextId++, kind, state: 'running', noCopy, target, createdAt: new Date().toISOString(), resumed: 0,
        slotsTotal: 0, slotsDone: 0, moves: 0, keysScanned: 0, keysToScan: 0, keysMoved: 0, staleDeleted: 0,
        keysPerSecond: 0, etaSeconds: null, elapsedMs: 0,
      });
      this.jobs.push(job);
    }
    this.running = job;
    this.saveJobs();
    this.idle = this.run(job, plan, drain).finally(() => {
      this.running = null;
    });
    return job.snapshotInfo();
  }

  private async run(job: Job, plan: ((t: TopologySnapshot) => Move[]) | null, drain: string | undefined): Promise<void> {
    const info = job.info;
    try {
      this.pacer.setRate(this.deps.settings().maxKeysPerSecond);
      // Moves left by an earlier run come first (their slots are migrating right now).
      const leftover = this.deps.snapshot().migrations.map((m) => ({ first: m.first, last: m.last, from: m.from, to: m.to }));
      if (leftover.length > 0) {
        if (this.deps.snapshot().migrations.some((m) => m.pending)) await this.activate();
        info.slotsTotal += countSlots(leftover);
        info.moves += leftover.length;
        await this.drive(job, leftover);
      }
      if (plan) {
        const moves = plan(this.deps.snapshot());
        if (!info.noCopy) assertShardsUp(this.deps.snapshot(), moves);
        info.slotsTotal += countSlots(moves);
        info.moves += moves.length;
        this.saveJobs();
        this.log.info({ job: info.id, kind: info.kind, moves: moves.length, slots: countSlots(moves), noCopy: info.noCopy }, 'job planned');
        if (info.noCopy) {
          await this.reassignWithoutCopy(job, moves, drain);
        } else if (moves.length > 0 || drain) {
          await this.purgeDestinations(job, moves);
          await this.deps.apply((t) => {
            const next = drain ? setShardState(t, drain, 'draining') : t;
            return startMigrations(next, moves, true);
          });
          await this.activate();
          await this.drive(job, moves);
        }
      }
      // Drained shards (this job's, or one a restart interrupted) leave the topology.
      for (const shard of this.deps.snapshot().shards) {
        if (shard.state === 'draining' && shard.slots.length === 0) {
          await this.deps.apply((t) => dropShard(t, shard.name));
          this.log.info({ job: info.id, shard: shard.name }, 'shard removed');
        }
      }
      info.state = 'done';
      info.etaSeconds = 0;
    } catch (err) {
      info.state = 'failed';
      info.error = err instanceof ScanStopped
        ? 'stopped (resumes at next start)'
        : `${(err as Error).message}${this.deps.snapshot().migrations.length ? ' (its slots stay migrating; `kvstore ctl rebalance` or a restart resumes them)' : ''}`;
      this.log.error({ job: info.id, err: info.error }, 'job failed; its slots stay migrating until it is resumed');
    } finally {
      const done = job.snapshotInfo();
      info.elapsedMs = done.elapsedMs;
      info.keysPerSecond = done.keysPerSecond;
      info.finishedAt = new Date().toISOString();
      if (info.state === 'done') this.totals.jobsDone++;
      else this.totals.jobsFailed++;
      this.saveJobs();
      this.emit('job', job.snapshotInfo());
    }
  }

  /**
   * Phase two of starting a migration. Every worker acknowledged the pending migrations, so none
   * sends new commands on those slots anywhere; after `settleMs` the requests sent to the old
   * owner under the earlier epoch have been served, and keys may start moving.
   */
  private async activate(): Promise<void> {
    await new Promise((r) => setTimeout(r, this.deps.settings().settleMs ?? 20));
    await this.deps.apply((t) => activateMigrations(t));
  }

  private addressOf(name: string): string {
    const shard = this.deps.snapshot().shards.find((s) => s.name === name);
    if (!shard) throw new TopologyError(`shard "${name}" disappeared during the migration`);
    return shard.master;
  }

  /** Scan every source once (sources in parallel); each source's moves finish when its pass ends. */
  private async drive(job: Job, moves: Move[]): Promise<void> {
    const bySource = new Map<string, Move[]>();
    for (const m of moves) {
      const list = bySource.get(m.from) ?? [];
      list.push(m);
      bySource.set(m.from, list);
    }
    await Promise.all([...bySource].map(([from, list]) => this.passOverSource(job, from, list, 'migrate')));
  }

  /**
   * Before slots start migrating to a shard, delete what it holds in them: leftovers of an
   * interrupted no-copy cleanup or of cache-mode failover routing. Such a stale copy would make
   * MIGRATE answer BUSYKEY, which means "the destination is newer" once the slots migrate.
   * Nobody reads or writes a shard's keys in slots it does not own yet, so this is safe.
   */
  private async purgeDestinations(job: Job, moves: Move[]): Promise<void> {
    const byDestination = new Map<string, Move[]>();
    for (const m of moves) byDestination.set(m.to, [...(byDestination.get(m.to) ?? []), m]);
    await Promise.all([...byDestination].map(([to, list]) => this.passOverSource(job, to, list, 'purge')));
  }

  private async passOverSource(job: Job, from: string, moves: Move[], action: 'migrate' | 'delete' | 'purge'): Promise<void> {
    const settings = this.deps.settings();
    const info = job.info;
    const address = this.addressOf(from);
    const auth = { username: settings.backend.username, password: settings.backend.password };
    if (action !== 'purge') {
      const probe = new RespClient(address, auth);
      try {
        info.keysToScan += Number(await probe.command(['DBSIZE']));
      } finally {
        probe.close();
      }
    }
    await scanSource({
      source: address,
      destinationAddress: (to) => this.addressOf(to),
      moves,
      filter: this.deps.filter,
      batchKeys: Math.max(1, settings.batchKeys),
      scanCount: settings.scanCount ?? Math.max(1000, settings.batchKeys * 4),
      migrateTimeoutMs: settings.migrateTimeoutMs ?? 10_000,
      auth,
      pacer: this.pacer,
      progress:
        action === 'purge'
          ? {
              scanned: () => undefined,
              moved: (n) => {
                info.staleDeleted += n;
                this.totals.staleDeleted += n;
              },
            }
          : {
              scanned: (n) => (info.keysScanned += n),
              moved: (n, stale) => {
                // A no-copy cleanup deletes leftovers: they are not moved keys.
                if (action === 'delete') info.staleDeleted += n;
                else info.keysMoved += n;
                info.staleDeleted += stale;
                this.totals.keysMoved += action === 'delete' ? 0 : n;
                this.totals.staleDeleted += stale + (action === 'delete' ? n : 0);
              },
            },
      log: this.log.child({ job: info.id, source: from }),
      action: action === 'migrate' ? 'migrate' : 'delete',
      stopped: () => this.stopping,
      retries: settings.retries,
    });
    if (action === 'migrate') {
      await this.deps.apply((t) => finishMigrations(t, moves));
      info.slotsDone += countSlots(moves);
      this.log.info({ job: info.id, source: from, slots: countSlots(moves) }, 'slots handed over');
      this.saveJobs();
    }
  }

  /** --no-copy: the slots change owner at once; the old owners' copies are deleted afterwards. */
  private async reassignWithoutCopy(job: Job, moves: Move[], drain: string | undefined): Promise<void> {
    await this.deps.apply((t) => {
      const next = reassignSlots(t, moves);
      return drain ? setShardState(next, drain, 'draining') : next;
    });
    job.info.slotsDone += countSlots(moves);
    this.saveJobs();
    if (drain) return; // the shard leaves the cluster: nothing can read its leftovers again
    const bySource = new Map<string, Move[]>();
    for (const m of moves) bySource.set(m.from, [...(bySource.get(m.from) ?? []), m]);
    await Promise.all([...bySource].map(([from, list]) => this.passOverSource(job, from, list, 'delete')));
  }
}
