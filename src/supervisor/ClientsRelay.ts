/**
 * CLIENT LIST / KILL / PAUSE / UNBLOCK, SLOWLOG GET / LEN / RESET and INFO latencystats across the
 * workers: a worker's `clients-query` is sent to every ready worker (the asking one included) as
 * `clients-local`; their answers are added up (`addQueryResult`: lines and SLOWLOG entries
 * concatenated, kills and lengths summed, histograms collected) and sent back to the asking
 * worker as `clients-result`. A worker that does not answer within the timeout is left out of a
 * query that only reads (LIST, SLOWLOG GET/LEN, latencystats) and fails one that changes
 * something (KILL, PAUSE, UNBLOCK, SLOWLOG RESET): the client must know it did not reach every
 * worker. Either way the log names the worker. The primary asks the same way for itself (`query`:
 * the admin API's GET /slowlog).
 */
import { KvstoreError } from '../errors';
import type { Logger } from '../log';
import { addQueryResult, ClientQuery, ClientQueryResult, readsOnly } from '../proxy/clients/ClientQuery';
import type { PrimaryToWorker, WorkerToPrimary } from './messages';
import type { WorkerSlot } from './WorkerPool';

export interface RelayPool {
  ready(): WorkerSlot[];
  send(slot: WorkerSlot, message: PrimaryToWorker): void;
  on(event: 'clients', listener: (slot: WorkerSlot, message: WorkerToPrimary) => void): unknown;
}

const TIMEOUT_MS = 2000;

export class ClientsRelay {
  private nextQuery = 1;
  private readonly open = new Map<number, (result: ClientQueryResult) => void>();

  constructor(
    private readonly pool: RelayPool,
    private readonly log: Logger,
    private readonly timeoutMs = TIMEOUT_MS,
  ) {
    pool.on('clients', (slot, message) => this.onMessage(slot, message));
  }

  private onMessage(slot: WorkerSlot, message: WorkerToPrimary): void {
    if (message.type === 'clients-local-result') {
      this.open.get(message.queryId)?.(message.result);
      return;
    }
    if (message.type !== 'clients-query') return;
    this.query(message.query, slot.id).then(
      (result) => this.pool.send(slot, { type: 'clients-result', requestId: message.requestId, result }),
      (err: Error) => this.pool.send(slot, { type: 'clients-result', requestId: message.requestId, error: err.message }),
    );
  }

  /**
   * Run `query` on every ready worker and add up their answers: for a worker's client (above) or
   * for the primary itself (the admin API's GET /slowlog asks the workers only when asked, so
   * their SLOWLOG entries do not ride on every periodic stats message). Rejects with a
   * WorkersQueryError when a query that changes something misses a worker.
   */
  query(query: ClientQuery, asker: number | 'primary' = 'primary'): Promise<ClientQueryResult> {
    const targets = this.pool.ready();
    const merged: ClientQueryResult = { lines: [], killed: 0 };
    if (targets.length === 0) return Promise.resolve(merged);
    return new Promise((resolve, reject) => {
      let waiting = targets.length;
      const answered = new Set<number>();
      const ids: number[] = [];
      const finish = (error?: string) => {
        for (const id of ids) this.open.delete(id);
        clearTimeout(timer);
        if (error) reject(new WorkersQueryError(error));
        else resolve(merged);
      };
      const timer = setTimeout(() => {
        const missing = targets.filter((t) => !answered.has(t.id)).map((t) => t.id);
        const partial = readsOnly(query);
        this.log.warn({ op: query.op, workers: missing, timeoutMs: this.timeoutMs, asker }, partial ? 'workers left out of a query: no answer in time' : 'query failed: workers did not answer in time');
        if (partial) finish();
        else finish(`worker(s) ${missing.join(', ')} did not answer within ${this.timeoutMs} ms`);
      }, this.timeoutMs);
      for (const target of targets) {
        const queryId = this.nextQuery++;
        ids.push(queryId);
        this.open.set(queryId, (result) => {
          this.open.delete(queryId);
          answered.add(target.id);
          addQueryResult(merged, result);
          if (--waiting === 0) finish();
        });
        this.pool.send(target, { type: 'clients-local', queryId, query });
      }
    });
  }
}

/** A query that changes something (KILL, PAUSE, UNBLOCK, SLOWLOG RESET) did not reach every worker. */
export class WorkersQueryError extends KvstoreError {
  constructor(message: string) {
    super('E_WORKERS_QUERY', message);
  }
}
