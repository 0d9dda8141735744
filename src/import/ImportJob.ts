/**
 * One import of a source redis-server into Kvstore, run by the primary (see ImportManager).
 *
 * Order matters for the guarantee:
 *   1. keyspace notifications are switched on at the source and subscribed to FIRST, so every
 *      change made after this point is announced, including changes to keys the pass has already
 *      copied;
 *   2. check (onExisting skip|fail): SCAN the source, ask Kvstore which of those names exist —
 *      `fail` stops here with nothing written, `skip` remembers them (persisted) and never writes
 *      them;
 *   3. copy: SCAN the source once more and copy every key (KeyCopier), paced, the cursor
 *      persisted; meanwhile the live loop copies announced keys again (a key is never copied by
 *      both at once: the pass leaves keys the live loop holds, the live loop waits for keys the
 *      pass holds);
 *   4. live: only announced changes, until cutover: barrier on the subscription (every change
 *      made before it has arrived), drain what is pending, restore the source's
 *      notify-keyspace-events, done.
 * A restart (or a lost subscription) may have missed announcements, so the job then runs a
 * refresh pass: the whole source copied again (a pass interrupted in `copy` first finishes from
 * its saved cursor).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import type { Logger } from '../log';
import { RespClient, RespValue } from '../resp';
import { Pacer } from '../reshard/SourceScan';
import { writeFileAtomic } from '../topology/TopologyStore';
import { ChangeFeed } from './ChangeFeed';
import { ImportSourceError } from './errors';
import { KeyCopier } from './KeyCopier';
import type { ImportInfo, ImportPhase } from './types';

/** What import.json holds: enough to pick the job up after a restart. */
export interface SavedImport {
  info: ImportInfo;
  /** SCAN cursor of the current check/copy pass. */
  cursor: string;
  /** Source credentials (the file is written with mode 0600). */
  password?: string;
  /** The source's notify-keyspace-events before the job changed it (restored at the end). */
  originalNotify?: string;
  /** Names skipped (onExisting: skip), base64. */
  skipped: string[];
}

export interface ImportJobDeps {
  stateDir: string;
  /** Kvstore's own listener (the write path) and its client password. */
  target: () => { address: string; password: string };
  tempName: (name: Buffer) => Buffer;
  log: Logger;
  /** Consecutive failures of one step before the job fails (exponential backoff up to 2 s). */
  retries?: number;
}

export const IMPORT_FILE = 'import.json';
const TEMP_PREFIX = Buffer.from('\xffkvimport:', 'latin1');
const COMMAND_TIMEOUT_MS = 30_000;

export class ImportStopped extends Error {}

export class ImportJob {
  readonly info: ImportInfo;
  private readonly skipped: Set<string>;
  private stopping: 'shutdown' | 'cancel' | null = null;
  private source!: RespClient;
  private target!: RespClient;
  private feed: ChangeFeed | null = null;
  private copier!: KeyCopier;
  private readonly pacer: Pacer;
  /** Source keys (latin1) being copied by the pass / the live loop. */
  private readonly passBusy = new Set<string>();
  private readonly liveBusy = new Set<string>();
  private needsRefresh = false;
  private lastSave = 0;
  private runStartedAt = Date.now();
  private copiedThisRun = 0;
  private liveLoop: Promise<void> | null = null;
  /** Sleepers to wake early (cutover, stop, a batch done). */
  private readonly waiters = new Set<() => void>();
  /** A failure of the live loop: the main loop fails the job with it. */
  private fatal: Error | null = null;
  private readonly elapsedBefore: number;

  constructor(private readonly saved: SavedImport, private readonly deps: ImportJobDeps) {
    this.info = saved.info;
    this.skipped = new Set(saved.skipped.map((b) => Buffer.from(b, 'base64').toString('latin1')));
    this.pacer = new Pacer(this.info.rate);
    this.elapsedBefore = this.info.elapsedMs;
  }

  /** The job's status with the live figures filled in. */
  snapshot(): ImportInfo {
    const i = this.info;
    if (i.state === 'running') {
      i.pending = (this.feed?.pending ?? 0) + this.liveBusy.size;
      i.lagMs = this.feed?.lagMs() ?? 0;
      i.caughtUp = (i.phase === 'live' || i.phase === 'cutover') && i.pending === 0 && !this.needsRefresh;
      const seconds = (Date.now() - this.runStartedAt) / 1000;
      i.keysPerSecond = seconds > 0 ? Math.round(this.copiedThisRun / seconds) : 0;
      i.elapsedMs = this.elapsedBefore + (Date.now() - this.runStartedAt);
    }
    return { ...i };
  }

  requestCutover(): void {
    this.info.cutoverRequested = true;
    this.save(true);
    this.wakeAll();
  }

  /** Stop between batches. 'shutdown' keeps the job running in import.json (the next start resumes it). */
  stop(reason: 'shutdown' | 'cancel'): void {
    this.stopping = reason;
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const w of [...this.waiters]) w();
  }

  async run(): Promise<void> {
    const i = this.info;
    this.runStartedAt = Date.now();
    const log = this.deps.log.child({ import: i.id, from: i.from });
    try {
      const auth = { username: i.user, password: this.saved.password };
      this.source = new RespClient(i.from, { ...auth, commandTimeoutMs: COMMAND_TIMEOUT_MS });
      const target = this.deps.target();
      this.target = new RespClient(target.address, { password: target.password || undefined, commandTimeoutMs: COMMAND_TIMEOUT_MS });
      this.copier = new KeyCopier({
        source: this.source,
        target: this.target,
        bigKeyBytes: i.bigKeyBytes,
        targetName: (key) => this.targetName(key),
        tempName: (name) => this.deps.tempName(name),
        isSkipped: (name) => this.skipped.has(name.toString('latin1')),
      });
      await this.retrying('enable keyspace notifications', () => this.enableNotifications());
      await this.retrying('subscribe', () => this.subscribe(log));
      // Resumed mid-pass: changes made while no one listened may be missed (a refresh pass follows).
      const resumedMidCopy = i.resumed > 0 && i.phase === 'copy';
      if (i.phase === 'check') {
        if (i.onExisting !== 'replace') await this.pass('check');
        this.setPhase('copy', '0');
      }
      this.liveLoop = this.runLive(log);
      if (i.phase === 'copy') {
        await this.pass('copy');
        if (resumedMidCopy) this.needsRefresh = true;
        this.setPhase('live');
      } else {
        // refresh, live or cutover when the job stopped: changes may have been missed meanwhile
        this.needsRefresh = true;
        this.setPhase('live');
      }
      for (;;) {
        this.checkStopped();
        // A refresh starts only once a subscription is up again: the pass must not miss what
        // changes while it runs.
        if (this.needsRefresh && this.feed) {
          this.needsRefresh = false;
          this.setPhase('refresh', '0');
          await this.pass('refresh');
          this.setPhase(i.cutoverRequested ? 'cutover' : 'live');
          continue;
        }
        if (i.cutoverRequested && this.feed && !this.needsRefresh) {
          this.setPhase('cutover');
          await this.feed.barrier();
          if (this.feed && this.feed.pending + this.liveBusy.size === 0 && !this.needsRefresh) break;
        }
        await this.idle(100);
      }
      i.state = 'done';
      log.info({ copied: i.keysCopied, live: i.liveCopied + i.liveDeleted }, 'import cut over');
    } catch (caught) {
      const err = caught as Error;
      if (this.fatal) {
        i.state = 'failed';
        i.error = this.fatal.message;
        log.error({ err: i.error }, 'import failed');
      } else if (this.stopping === 'shutdown') {
        log.info('import stopped by shutdown; resumes at the next start');
      } else if (this.stopping === 'cancel') {
        i.state = 'cancelled';
        log.info('import cancelled');
      } else {
        i.state = 'failed';
        i.error = (err as Error).message;
        log.error({ err: i.error }, 'import failed');
      }
    } finally {
      const shutdown = this.stopping === 'shutdown' && i.state === 'running';
      this.stopping ??= 'cancel';
      this.wakeAll();
      await this.liveLoop?.catch(() => undefined);
      this.feed?.close();
      if (!shutdown) await this.restoreNotifications(log);
      this.source?.close();
      this.target?.close();
      if (!shutdown) i.finishedAt = new Date().toISOString();
      this.snapshot();
      i.pending = 0;
      i.lagMs = 0;
      this.save(true);
    }
  }

  /* ---------- passes ---------- */

  private async pass(kind: 'check' | 'copy' | 'refresh'): Promise<void> {
    const i = this.info;
    i.passes += kind === 'check' ? 0 : 1;
    i.keysScanned = 0;
    i.keysToScan = Number(await this.retrying('DBSIZE', () => this.source.command(['DBSIZE'])));
    let cursor = this.saved.cursor;
    do {
      this.checkStopped();
      const page = (await this.retrying('SCAN', () => this.source.command(['SCAN', cursor, 'MATCH', i.match, 'COUNT', i.batchKeys]))) as RespValue[];
      const next = String(page[0]);
      const keys = (page[1] as Buffer[]).filter((k) => !this.liveBusy.has(k.toString('latin1')));
      i.keysScanned += (page[1] as Buffer[]).length;
      if (kind === 'check') await this.retrying('check existing keys', () => this.checkExisting(keys));
      else if (keys.length > 0) {
        await this.pacer.take(keys.length);
        for (const k of keys) this.passBusy.add(k.toString('latin1'));
        try {
          const r = await this.retrying('copy', () => this.copier.copy(keys));
          i.keysCopied += r.copied;
          i.bigKeys += r.big;
          i.keysVanished += r.missing;
          this.copiedThisRun += r.copied;
        } finally {
          for (const k of keys) this.passBusy.delete(k.toString('latin1'));
          this.wakeAll();
        }
      }
      cursor = next;
      this.saved.cursor = cursor;
      this.save(false);
    } while (cursor !== '0');
  }

  /** onExisting skip|fail: which of these keys' names Kvstore holds already. */
  private async checkExisting(keys: Buffer[]): Promise<void> {
    if (keys.length === 0) return;
    const names = keys.map((k) => this.targetName(k));
    const replies = await this.target.pipeline(names.map((n) => ['EXISTS', n]));
    const existing = names.filter((_, idx) => {
      const r = replies[idx];
      if (r instanceof Error) throw r;
      return Number(r) > 0;
    });
    if (existing.length === 0) return;
    if (this.info.onExisting === 'fail') {
      throw new ImportSourceError(
        `${existing.length} key(s) of the source exist in Kvstore already (onExisting: fail), e.g. ${existing.slice(0, 5).map((n) => JSON.stringify(n.toString('latin1'))).join(', ')}; nothing was copied`,
      );
    }
    for (const n of existing) {
      const key = n.toString('latin1');
      if (this.skipped.has(key)) continue;
      this.skipped.add(key);
      this.saved.skipped.push(n.toString('base64'));
      this.info.keysSkipped++;
    }
    this.save(true);
  }

  /* ---------- live phase ---------- */

  private async runLive(log: Logger): Promise<void> {
    let failures = 0;
    while (!this.stopping && !this.fatal) {
      const feed = this.feed;
      const keys = feed ? feed.take(this.info.batchKeys, (k) => this.passBusy.has(k)) : [];
      if (keys.length === 0) {
        await this.idle(20);
        continue;
      }
      const names = keys.map((k) => k.toString('latin1'));
      for (const k of names) this.liveBusy.add(k);
      try {
        const r = await this.copier.copy(keys);
        this.info.liveCopied += r.copied;
        this.info.liveDeleted += r.missing;
        failures = 0;
      } catch (err) {
        // Put them back (they are still changed) and back off; repeated failures fail the job.
        // (If the subscription was replaced meanwhile, the refresh pass that follows covers them.)
        for (const k of keys) feed!.requeue(k);
        if (++failures > (this.deps.retries ?? 5)) {
          this.fatal = new Error(`live phase: ${(err as Error).message}`);
          this.wakeAll();
          return;
        }
        log.warn({ err: (err as Error).message, failures }, 'live copy failed; retrying');
        await this.idle(Math.min(2000, 100 * 2 ** failures));
      } finally {
        for (const k of names) this.liveBusy.delete(k);
      }
    }
  }

  private async subscribe(log: Logger): Promise<void> {
    const i = this.info;
    const subscriber = new RespClient(i.from, { username: i.user, password: this.saved.password, reconnect: false, commandTimeoutMs: COMMAND_TIMEOUT_MS });
    const feed = new ChangeFeed(subscriber);
    await feed.start(i.match, (err) => {
      if (this.stopping) return;
      // Announcements may have been lost: a refresh pass covers them once we listen again.
      log.warn({ err: err.message }, 'lost the keyspace subscription; subscribing again, then a refresh pass');
      this.needsRefresh = true;
      this.feed = null;
      const pendingKeys = feed.take(Number.MAX_SAFE_INTEGER, () => false);
      void this.retrying('subscribe again', () => this.subscribe(log))
        .then(() => pendingKeys.forEach((k) => this.feed?.requeue(k)))
        .catch((e) => {
          if (this.stopping) return;
          this.fatal = new Error(`cannot subscribe to the source's keyspace notifications again: ${(e as Error).message}`);
          this.wakeAll();
        });
    });
    this.feed = feed;
  }

  private async enableNotifications(): Promise<void> {
    let current: string;
    try {
      const reply = (await this.source.command(['CONFIG', 'GET', 'notify-keyspace-events'])) as Buffer[];
      current = reply.length >= 2 ? String(reply[1]) : '';
    } catch (err) {
      throw new ImportSourceError(`the source refused CONFIG GET notify-keyspace-events (${(err as Error).message}); the live phase needs keyspace notifications`);
    }
    if (this.saved.originalNotify === undefined) {
      this.saved.originalNotify = current;
      this.save(true);
    }
    // K: keyspace channel; A: every class of event (generic, string, list, set, hash, zset,
    // stream, expired, evicted). What was set already stays set.
    const flags = [...new Set([...current, 'K', 'A'])].join('');
    try {
      await this.source.command(['CONFIG', 'SET', 'notify-keyspace-events', flags]);
    } catch (err) {
      throw new ImportSourceError(`the source refused CONFIG SET notify-keyspace-events (${(err as Error).message}); the live phase needs keyspace notifications`);
    }
  }

  private async restoreNotifications(log: Logger): Promise<void> {
    if (this.saved.originalNotify === undefined) return;
    try {
      await this.source.command(['CONFIG', 'SET', 'notify-keyspace-events', this.saved.originalNotify], 5000);
      this.saved.originalNotify = undefined;
    } catch (err) {
      log.warn({ err: (err as Error).message, original: this.saved.originalNotify }, 'could not restore notify-keyspace-events on the source; set it back by hand');
    }
  }

  /* ---------- helpers ---------- */

  private targetName(key: Buffer): Buffer {
    const prefix = this.info.stripPrefix;
    if (!prefix) return key;
    const p = Buffer.from(prefix);
    return key.length >= p.length && key.subarray(0, p.length).equals(p) ? key.subarray(p.length) : key;
  }

  private setPhase(phase: ImportPhase, cursor?: string): void {
    this.info.phase = phase;
    if (cursor !== undefined) this.saved.cursor = cursor;
    this.save(true);
  }

  private checkStopped(): void {
    if (this.fatal) throw this.fatal;
    if (this.stopping) throw new ImportStopped(this.stopping);
  }

  private async idle(ms: number): Promise<void> {
    if (this.stopping || this.fatal) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  private async retrying<T>(what: string, step: () => Promise<T>): Promise<T> {
    const retries = this.deps.retries ?? 5;
    for (let attempt = 0; ; attempt++) {
      this.checkStopped();
      try {
        return await step();
      } catch (err) {
        if (err instanceof ImportSourceError || attempt >= retries || this.stopping) throw err;
        this.deps.log.warn({ import: this.info.id, step: what, err: (err as Error).message, attempt: attempt + 1 }, 'import step failed; retrying');
        await sleep(Math.min(2000, 100 * 2 ** attempt));
      }
    }
  }

  /** Persist import.json (throttled to once a second unless `force`). */
  save(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastSave < 1000) return;
    this.lastSave = now;
    const file = path.join(this.deps.stateDir, IMPORT_FILE);
    // Created 0600 (it holds the source's password), never readable by others even briefly.
    writeFileAtomic(file, JSON.stringify({ ...this.saved, info: { ...this.info } }, null, 2), 0o600);
  }
}

export { TEMP_PREFIX };
