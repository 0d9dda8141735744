/**
 * The proxy's clients as one set across the workers, for CLIENT LIST / KILL / PAUSE (and the
 * same way across the workers: SLOWLOG and INFO latencystats, src/observability). A single
 * process (tests, one in-process ProxyServer) answers from its own clients; a cluster worker
 * asks the primary, which asks every worker (src/supervisor/ClientsRelay.ts) and merges.
 *
 * CLIENT PAUSE state lives here too: while a pause is in force, the dispatcher holds the
 * commands it covers (every command, or writes only) by stopping that client's reading at the
 * command, and every held client resumes at UNPAUSE or when the pause expires.
 */
import { ClientQuery, ClientQueryResult, QueryableClient, runLocalQuery } from './ClientQuery';
import { isObservabilityQuery, ObservabilityAnswer, ObservabilityQuery } from '../../observability/ObservabilityQuery';

/** Sends a query to every worker and resolves with the merged answer (cluster workers only). */
export type QueryRemote = (query: ClientQuery) => Promise<ClientQueryResult>;

export interface PausableClient extends QueryableClient {
  resumeAfterPause(): void;
}

export class ClientDirectory {
  /** When the pause in force ends (ms since epoch); 0 = none. Read per command: keep it a field. */
  pauseUntil = 0;
  pauseWritesOnly = false;
  private readonly held = new Set<PausableClient>();
  private timer: NodeJS.Timeout | null = null;
  remote: QueryRemote | null = null;
  /** Unblock this worker's client `id` on its shard: true when it was blocked (DedicatedPool). */
  unblockHere: ((id: number, mode: 'TIMEOUT' | 'ERROR') => Promise<boolean>) | null = null;
  /** This worker's SLOWLOG and histograms (src/observability/ObservabilityQuery.ts). */
  observeHere: ((query: ObservabilityQuery) => ObservabilityAnswer) | null = null;

  constructor(
    private readonly clients: () => Iterable<QueryableClient>,
    /** The proxy's listening address, CLIENT LIST's `laddr`. */
    readonly localAddress: () => string,
  ) {}

  /** The whole proxy's answer (every worker when `remote` is set). */
  query(query: ClientQuery): Promise<ClientQueryResult> {
    if (this.remote) return this.remote(query);
    return Promise.resolve(this.runLocal(query));
  }

  /** This worker's part (a promise for UNBLOCK: it waits for the shard's answer). */
  runLocal(query: ClientQuery): ClientQueryResult | Promise<ClientQueryResult> {
    if (query.op === 'pause') {
      this.applyPause(query.writesOnly, query.until);
      return { lines: [], killed: 0 };
    }
    if (isObservabilityQuery(query)) return { lines: [], killed: 0, ...this.observeHere?.(query) };
    if (query.op === 'unblock') {
      if (this.unblockHere === null) return { lines: [], killed: 0 };
      return this.unblockHere(query.id, query.mode).then((done) => ({ lines: [], killed: done ? 1 : 0 }));
    }
    return runLocalQuery(this.clients(), this.localAddress(), query);
  }

  /** Is a command with these flags held now? (`isWrite`: the command table's write/may-replicate). */
  holds(isWrite: boolean): boolean {
    if (this.pauseUntil === 0) return false;
    if (Date.now() >= this.pauseUntil) {
      this.applyPause(false, 0);
      return false;
    }
    return !this.pauseWritesOnly || isWrite;
  }

  hold(client: PausableClient): void {
    this.held.add(client);
  }

  forget(client: PausableClient): void {
    this.held.delete(client);
  }

  private applyPause(writesOnly: boolean, until: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // Redis: a new pause never shortens or weakens one in force, except UNPAUSE.
    if (until !== 0 && this.pauseUntil > Date.now()) {
      this.pauseUntil = Math.max(this.pauseUntil, until);
      this.pauseWritesOnly = this.pauseWritesOnly && writesOnly;
    } else {
      this.pauseUntil = until;
      this.pauseWritesOnly = writesOnly;
    }
    if (this.pauseUntil !== 0) {
      this.timer = setTimeout(() => this.applyPause(false, 0), Math.max(0, this.pauseUntil - Date.now()));
      this.timer.unref();
      return;
    }
    const held = [...this.held];
    this.held.clear();
    for (const c of held) c.resumeAfterPause();
  }
}
