/**
 * CLIENT LIST / KILL / PAUSE / UNBLOCK across the workers: a worker's `clients-query` is sent to every
 * ready worker (the asking one included) as `clients-local`; their answers are merged (lines
 * concatenated, kills summed) and sent back to the asking worker as `clients-result`. A worker
 * that does not answer within the timeout is left out of a LIST and fails a KILL or PAUSE (the
 * client must know it did not reach every worker).
 */
import type { ClientQueryResult } from '../proxy/clients/ClientQuery';
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

  constructor(private readonly pool: RelayPool, private readonly timeoutMs = TIMEOUT_MS) {
    pool.on('clients', (slot, message) => this.onMessage(slot, message));
  }

  private onMessage(slot: WorkerSlot, message: WorkerToPrimary): void {
    if (message.type === 'clients-local-result') {
      this.open.get(message.queryId)?.(message.result);
      return;
    }
    if (message.type !== 'clients-query') return;
    const targets = this.pool.ready();
    const merged: ClientQueryResult = { lines: [], killed: 0 };
    let waiting = targets.length;
    const answered = new Set<number>();
    const ids: number[] = [];
    const finish = (error?: string) => {
      for (const id of ids) this.open.delete(id);
      clearTimeout(timer);
      this.pool.send(slot, { type: 'clients-result', requestId: message.requestId, ...(error ? { error } : { result: merged }) });
    };
    const timer = setTimeout(() => {
      const missing = targets.filter((t) => !answered.has(t.id)).map((t) => t.id);
      if (message.query.op === 'list') finish();
      else finish(`worker(s) ${missing.join(', ')} did not answer within ${this.timeoutMs} ms`);
    }, this.timeoutMs);
    if (waiting === 0) return finish();
    for (const target of targets) {
      const queryId = this.nextQuery++;
      ids.push(queryId);
      this.open.set(queryId, (result) => {
        this.open.delete(queryId);
        answered.add(target.id);
        merged.lines.push(...result.lines);
        merged.killed += result.killed;
        if (--waiting === 0) finish();
      });
      this.pool.send(target, { type: 'clients-local', queryId, query: message.query });
    }
  }
}
