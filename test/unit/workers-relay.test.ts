/**
 * The relay that asks every worker (src/supervisor/ClientsRelay.ts) with SLOWLOG and latency
 * queries, on a fake pool: answers added up, a worker that does not answer in time left out
 * of a read (and named in the log) but failing a RESET; and what one worker answers
 * (ObservabilityQuery.ts through ClientDirectory.runLocal).
 */
import test from 'ava';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import pino from 'pino';
import { ClientsRelay } from '../../src/supervisor/ClientsRelay';
import type { PrimaryToWorker, WorkerToPrimary } from '../../src/supervisor/messages';
import type { WorkerSlot } from '../../src/supervisor/WorkerPool';
import type { ClientQuery, ClientQueryResult } from '../../src/proxy/clients/ClientQuery';
import { ClientDirectory } from '../../src/proxy/clients/ClientDirectory';
import { answerObservabilityQuery, mergedHistograms } from '../../src/observability/ObservabilityQuery';
import { LatencyHistograms } from '../../src/observability/LatencyHistograms';
import { mergeSlowlogs, SlowLog, SlowlogEntry } from '../../src/observability/SlowLog';
import type { WorkerObservability } from '../../src/observability/WorkerObservability';

function slot(id: number): WorkerSlot {
  return { id, ready: true, ackedEpoch: 0, restarts: 0, consecutiveFailures: 0, startedAt: 0 };
}

/** Workers that answer `clients-local` with `answer(slot, query)`, or never (undefined). */
class FakePool extends EventEmitter {
  readonly slots = [slot(1), slot(2), slot(3)];
  readonly toAsker: PrimaryToWorker[] = [];
  constructor(private readonly answer: (s: WorkerSlot, q: ClientQuery) => ClientQueryResult | undefined) {
    super();
  }
  ready(): WorkerSlot[] {
    return this.slots;
  }
  send(s: WorkerSlot, message: PrimaryToWorker): void {
    if (message.type === 'clients-result') {
      this.toAsker.push(message);
      return;
    }
    if (message.type !== 'clients-local') return;
    const result = this.answer(s, message.query);
    if (result) setImmediate(() => this.emit('clients', s, { type: 'clients-local-result', queryId: message.queryId, result } satisfies WorkerToPrimary));
  }
  ask(query: ClientQuery, requestId: number): void {
    this.emit('clients', this.slots[0], { type: 'clients-query', requestId, query } satisfies WorkerToPrimary);
  }
  async reply(requestId: number): Promise<PrimaryToWorker & { type: 'clients-result' }> {
    for (;;) {
      const found = this.toAsker.find((m) => m.type === 'clients-result' && m.requestId === requestId);
      if (found) return found as PrimaryToWorker & { type: 'clients-result' };
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

function logCapture(): { log: pino.Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const log = pino({ level: 'warn' }, new Writable({ write: (chunk, _enc, done) => (out.push(String(chunk)), done()) }));
  return { log, lines: () => out.map((l) => JSON.parse(l)) };
}

function entry(id: number, timeMs: number): SlowlogEntry {
  return { id, time: Math.floor(timeMs / 1000), timeMs, durationUs: 1000, args: ['eval'], client: '127.0.0.1:1', name: '' };
}

test('SLOWLOG GET/LEN and latency: every worker\'s answer added up', async (t) => {
  const hist = (id: number, us: number) => {
    const h = new LatencyHistograms(4);
    h.record(id, us);
    return h.snapshot();
  };
  const pool = new FakePool((s, q) => {
    if (q.op === 'slowlog-get') return { lines: [], killed: 0, slowlog: [entry(s.id, 1000 * s.id)] };
    if (q.op === 'slowlog-len') return { lines: [], killed: 0, slowlogLen: s.id * 10 };
    if (q.op === 'latency') return { lines: [], killed: 0, latency: [hist(s.id, 100 * s.id)] };
    return undefined;
  });
  const { log } = logCapture();
  new ClientsRelay(pool, log, 1000);
  pool.ask({ op: 'slowlog-get', count: 5 }, 1);
  pool.ask({ op: 'slowlog-len' }, 2);
  pool.ask({ op: 'latency' }, 3);
  const got = await pool.reply(1);
  t.deepEqual(mergeSlowlogs([got.result!.slowlog!], 5).map((e) => e.id), [3, 2, 1], 'newest first over the workers');
  t.is((await pool.reply(2)).result!.slowlogLen, 60);
  const merged = mergedHistograms(4, (await pool.reply(3)).result!.latency);
  t.deepEqual([1, 2, 3].map((id) => merged.totals[id]), [1, 1, 1]);
});

test('a worker that does not answer in time: left out of a read (logged), a RESET fails naming it', async (t) => {
  const pool = new FakePool((s, q) => {
    if (s.id === 2) return undefined; // stalled
    if (q.op === 'slowlog-get') return { lines: [], killed: 0, slowlog: [entry(s.id, 1000 * s.id)] };
    if (q.op === 'slowlog-len') return { lines: [], killed: 0, slowlogLen: 1 };
    return { lines: [], killed: 0 };
  });
  const { log, lines } = logCapture();
  new ClientsRelay(pool, log, 60);
  pool.ask({ op: 'slowlog-get', count: -1 }, 1);
  pool.ask({ op: 'slowlog-len' }, 2);
  pool.ask({ op: 'slowlog-reset' }, 3);
  const get = await pool.reply(1);
  t.is(get.error, undefined);
  t.deepEqual(get.result!.slowlog!.map((e) => e.id).sort(), [1, 3]);
  t.is((await pool.reply(2)).result!.slowlogLen, 2);
  const reset = await pool.reply(3);
  t.is(reset.result, undefined);
  t.is(reset.error, 'worker(s) 2 did not answer within 60 ms');
  const warnings = lines().filter((l) => l.level === 40);
  t.deepEqual(warnings.map((w) => [w.op, w.workers, w.msg]), [
    ['slowlog-get', [2], 'workers left out of a query: no answer in time'],
    ['slowlog-len', [2], 'workers left out of a query: no answer in time'],
    ['slowlog-reset', [2], 'query failed: workers did not answer in time'],
  ]);
});

test('one worker\'s answer: its ring (newest count), its length, RESET, its histogram rows', (t) => {
  const slowlog = new SlowLog(8, 1024, 3);
  for (let i = 0; i < 5; i++) slowlog.add(1000 + i, [Buffer.from('get'), Buffer.from(`k${i}`)], '127.0.0.1:9', 'n', 1_000_000 + i);
  const histograms = new LatencyHistograms(2);
  histograms.record(1, 40);
  const observe = { slowlog, histograms } as unknown as WorkerObservability;
  const dir = new ClientDirectory(() => [], () => '');
  t.deepEqual(dir.runLocal({ op: 'slowlog-len' }), { lines: [], killed: 0 }, 'no observability wired: nothing to add');
  dir.observeHere = (q) => answerObservabilityQuery(observe, q);
  const got = dir.runLocal({ op: 'slowlog-get', count: 2 }) as ClientQueryResult;
  t.deepEqual(got.slowlog!.map((e) => [e.id, e.args[1], e.timeMs]), [[4 * 1024 + 3, 'k4', 1_000_004], [3 * 1024 + 3, 'k3', 1_000_003]]);
  t.deepEqual(dir.runLocal({ op: 'slowlog-len' }), { lines: [], killed: 0, slowlogLen: 5 });
  t.deepEqual(dir.runLocal({ op: 'latency' }), { lines: [], killed: 0, latency: [histograms.snapshot()] });
  t.deepEqual(dir.runLocal({ op: 'slowlog-reset' }), { lines: [], killed: 0 });
  t.is(slowlog.length, 0);
  slowlog.add(1, [Buffer.from('get')], '', '', 2_000_000);
  t.is(slowlog.get(1)[0].id, 5 * 1024 + 3, 'ids go on after RESET, as in Redis');
});
