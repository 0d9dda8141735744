/**
 * The primary's import jobs: at most one runs; the last one's status is kept (import.json in the
 * state dir, which is also what a restarted primary resumes from).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseAddress } from '../resp';
import type { Logger } from '../log';
import { ImportRequestError, ImportStateError } from './errors';
import { IMPORT_FILE, ImportJob, ImportJobDeps, SavedImport } from './ImportJob';
import type { ImportInfo, ImportRequest, OnExisting } from './types';

const ON_EXISTING: readonly OnExisting[] = ['skip', 'replace', 'fail'];
export const DEFAULT_BATCH_KEYS = 200;
/** Above this, hashes/sets/zsets are copied in chunks (DUMP of ~1 MB of small fields takes a few ms). */
export const DEFAULT_BIG_KEY_BYTES = 1024 * 1024;

export class ImportManager {
  private job: ImportJob | null = null;
  private last: ImportInfo | null = null;
  private running: Promise<void> | null = null;
  private nextId = 1;

  constructor(private readonly deps: ImportJobDeps & { log: Logger }) {
    const saved = this.load();
    if (saved) {
      this.last = saved.info;
      this.nextId = saved.info.id + 1;
    }
  }

  private get file(): string {
    return path.join(this.deps.stateDir, IMPORT_FILE);
  }

  private load(): SavedImport | null {
    if (!fs.existsSync(this.file)) return null;
    try {
      return JSON.parse(fs.readFileSync(this.file, 'utf8')) as SavedImport;
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'import.json unreadable; no import to resume');
      return null;
    }
  }

  status(): ImportInfo | null {
    return this.job ? this.job.snapshot() : this.last;
  }

  start(request: ImportRequest): ImportInfo {
    if (this.job) throw new ImportStateError(`import ${this.job.info.id} is running (phase ${this.job.info.phase}); cancel it or cut it over first`);
    const from = validate(request);
    this.deps.target(); // throws while the workers do not listen yet
    const onExisting = request.onExisting ?? 'skip';
    const info: ImportInfo = {
      id: this.nextId++, kind: 'import', state: 'running', phase: 'check', from, user: request.user || undefined,
      match: request.match || '*', stripPrefix: request.stripPrefix || undefined, rate: request.rate ?? 0, onExisting,
      batchKeys: request.batchKeys ?? DEFAULT_BATCH_KEYS, bigKeyBytes: request.bigKeyBytes ?? DEFAULT_BIG_KEY_BYTES,
      createdAt: new Date().toISOString(), resumed: 0, keysToScan: 0, keysScanned: 0, keysCopied: 0, bigKeys: 0,
      keysSkipped: 0, keysVanished: 0, liveCopied: 0, liveDeleted: 0, pending: 0, lagMs: 0, caughtUp: false,
      cutoverRequested: false, keysPerSecond: 0, elapsedMs: 0, passes: 0,
    };
    return this.launch({ info, cursor: '0', password: request.password || undefined, skipped: [] });
  }

  /** At start (once the workers serve): pick up an import a previous run left running. */
  resume(): ImportInfo | null {
    const saved = this.load();
    if (!saved || saved.info.state !== 'running' || this.job) return null;
    saved.info.resumed++;
    return this.launch(saved);
  }

  requestCutover(): ImportInfo {
    const job = this.requireJob();
    const phase = job.info.phase;
    if (phase === 'check' || phase === 'copy') {
      throw new ImportStateError(`the full pass is not done (phase ${phase}, ${job.info.keysScanned}/${job.info.keysToScan} keys scanned); wait for it (kvstore ctl import-status)`);
    }
    job.requestCutover();
    return job.snapshot();
  }

  async cancel(): Promise<ImportInfo> {
    const job = this.requireJob();
    job.stop('cancel');
    await this.running;
    return this.last!;
  }

  /** Shutdown: stop between batches; the job stays `running` in import.json and resumes at the next start. */
  async stop(): Promise<void> {
    this.job?.stop('shutdown');
    await this.running?.catch(() => undefined);
  }

  private requireJob(): ImportJob {
    if (!this.job) throw new ImportStateError('no import is running');
    return this.job;
  }

  private launch(saved: SavedImport): ImportInfo {
    const job = new ImportJob(saved, this.deps);
    this.job = job;
    job.save(true);
    this.running = job.run().finally(() => {
      this.last = job.snapshot();
      this.job = null;
    });
    return job.snapshot();
  }
}

function validate(request: ImportRequest): string {
  if (typeof request.from !== 'string' || !request.from) throw new ImportRequestError('"from" (HOST:PORT of the source) is required');
  try {
    parseAddress(request.from);
  } catch (err) {
    throw new ImportRequestError(`"from": ${(err as Error).message}`);
  }
  if (request.onExisting !== undefined && !ON_EXISTING.includes(request.onExisting)) {
    throw new ImportRequestError(`"onExisting" must be one of ${ON_EXISTING.join(', ')}`);
  }
  for (const field of ['rate', 'batchKeys', 'bigKeyBytes'] as const) {
    const v = request[field];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < (field === 'rate' ? 0 : 1))) {
      throw new ImportRequestError(`"${field}" must be an integer ${field === 'rate' ? '>= 0' : '>= 1'}`);
    }
  }
  for (const field of ['user', 'password', 'match', 'stripPrefix'] as const) {
    if (request[field] !== undefined && typeof request[field] !== 'string') throw new ImportRequestError(`"${field}" must be a string`);
  }
  return request.from;
}
