/**
 * SLOWLOG entries are asked of the workers when the admin API's GET /slowlog is called, not
 * carried by the stats every worker sends each second (issue 16): the periodic stats have no
 * entries, and /slowlog merges what every worker answers through the primary's relay
 * (ClientsRelay.query), newest first by timeMs, with the same JSON fields as before.
 */
import test from 'ava';
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { parseConfig } from '../../src/config/load';
import { commands } from '../../src/commands/table';
import { WorkerObservability } from '../../src/observability/WorkerObservability';
import { answerObservabilityQuery } from '../../src/observability/ObservabilityQuery';
import { SlowLog, SLOWLOG_MAX_ARGC, SLOWLOG_MAX_STRING } from '../../src/observability/SlowLog';
import { LatencyHistograms } from '../../src/observability/LatencyHistograms';
import { ClientsRelay, WorkersQueryError } from '../../src/supervisor/ClientsRelay';
import { loadPrimaryPlugins } from '../../src/supervisor/plugins';
import type { PrimaryContext } from '../../src/supervisor/context';
import type { AdminHandler, AdminRequest } from '../../src/admin/AdminServer';
import type { PrimaryToWorker, WorkerToPrimary } from '../../src/supervisor/messages';
import type { WorkerSlot } from '../../src/supervisor/WorkerPool';
import type { ClientQuery, ClientQueryResult } from '../../src/proxy/clients/ClientQuery';

const silent = pino({ level: 'silent' });

function slot(id: number): WorkerSlot {
  return { id, ready: true, ackedEpoch: 0, restarts: 0, consecutiveFailures: 0, startedAt: 0 };
}

/** Workers that answer `clients-local` from their own SLOWLOG ring, as a worker does (or never: `silentIds`). */
class FakePool extends EventEmitter {
  readonly slots: WorkerSlot[];
  readonly asked: ClientQuery[] = [];
  constructor(
    private readonly rings: Map<number, SlowLog>,
    private readonly silentIds: number[] = [],
  ) {
    super();
    this.slots = [...rings.keys()].map(slot);
  }
  ready(): WorkerSlot[] {
    return this.slots;
  }
  send(s: WorkerSlot, message: PrimaryToWorker): void {
    if (message.type !== 'clients-local' || this.silentIds.includes(s.id)) return;
    this.asked.push(message.query);
    const observe = { slowlog: this.rings.get(s.id)!, histograms: new LatencyHistograms(4) } as unknown as WorkerObservability;
    const result: ClientQueryResult = { lines: [], killed: 0, ...answerObservabilityQuery(observe, message.query as never) };
    // through JSON, as over IPC
    const wire = JSON.parse(JSON.stringify({ type: 'clients-local-result', queryId: message.queryId, result } satisfies WorkerToPrimary));
    setImmediate(() => this.emit('clients', s, wire));
  }
}

/** Worker `w`'s ring with entries logged at the given ms. */
function ring(w: number, times: number[]): SlowLog {
  const log = new SlowLog(16, 1024, w);
  for (const ms of times) log.add(5000 + w, [Buffer.from('get'), Buffer.from(`w${w}:${ms}`)], `127.0.0.1:${1000 + w}`, `c${w}`, ms);
  return log;
}

/** The observability plugin started on a fake context: its routes, and whether it read the stats. */
async function observabilityRoutes(queryWorkers: PrimaryContext['queryWorkers']): Promise<{ routes: Map<string, AdminHandler>; statsReads: () => number }> {
  const plugin = loadPrimaryPlugins().find((p) => p.name === 'observability');
  if (!plugin) throw new Error('observability plugin not registered');
  const routes = new Map<string, AdminHandler>();
  let statsReads = 0;
  const ctx = {
    config: parseConfig({ shards: [{ name: 'a', master: '127.0.0.1:1' }], slowlog: { slowerThanUs: 300, maxLen: 16 } }, { env: {} }),
    admin: { route: (method: string, path: string, handler: AdminHandler) => routes.set(`${method} ${path}`, handler), listRoutes: () => [] },
    workerStats: async () => (statsReads++, []),
    queryWorkers,
  } as unknown as PrimaryContext;
  await plugin.start(ctx);
  return { routes, statsReads: () => statsReads };
}

const get = (query: string) => ({ method: 'GET', path: '/slowlog', params: {}, query: new URLSearchParams(query), body: {} }) as unknown as AdminRequest;

test('the periodic stats carry no SLOWLOG entries (the ring keeps them)', (t) => {
  const config = parseConfig({ shards: [{ name: 'a', master: '127.0.0.1:1' }], slowlog: { slowerThanUs: 0, maxLen: 128 } }, { env: {} });
  const observe = new WorkerObservability(config, commands.length, silent, 1);
  t.teardown(() => observe.close());
  // maxLen long requests: 32 arguments of 128 bytes each, what SLOWLOG keeps of a big MSET
  const argv = [Buffer.from('mset'), ...Array.from({ length: 40 }, (_, i) => Buffer.alloc(500, 97 + (i % 26)))];
  for (let i = 0; i < 128; i++) observe.slowlog.add(20000, argv, '127.0.0.1:5000', 'app', 1_000_000 + i);

  const stats = observe.stats();
  t.false('slowlog' in stats, 'no entries in the stats message');
  t.deepEqual(Object.keys(stats).sort(), ['bigKeys', 'hotKeys', 'latency']);
  t.is(observe.slowlog.length, 128, 'the worker still has them for SLOWLOG GET and GET /slowlog');
  const entries = observe.slowlog.get(-1);
  t.is(entries[0].args.length, SLOWLOG_MAX_ARGC);
  t.true(entries[0].args[1].length > SLOWLOG_MAX_STRING, 'truncated to 128 bytes plus the "more bytes" note');
  // what each stats message no longer carries (JSON over IPC), per worker per second
  const saved = Buffer.byteLength(JSON.stringify(entries));
  t.true(saved > 128 * 32 * SLOWLOG_MAX_STRING);
  t.log(`bytes per stats message saved at maxLen 128, 32 args x 128 B: ${saved}; stats message now: ${Buffer.byteLength(JSON.stringify(stats))}`);
});

test('GET /slowlog asks every worker on the call and merges their answers newest first by timeMs', async (t) => {
  const rings = new Map([
    [1, ring(1, [1_000, 4_000, 6_000])],
    [2, ring(2, [2_000, 5_000])],
    [3, ring(3, [3_000, 7_000])],
  ]);
  const pool = new FakePool(rings);
  const relay = new ClientsRelay(pool, silent, 1000);
  const { routes, statsReads } = await observabilityRoutes((q) => relay.query(q));
  const slowlog = routes.get('GET /slowlog')!;

  const body = (await slowlog(get('count=4'))) as { slowerThanUs: number; maxLen: number; entries: Array<Record<string, unknown>> };
  t.deepEqual(pool.asked, [{ op: 'slowlog-get', count: 4 }, { op: 'slowlog-get', count: 4 }, { op: 'slowlog-get', count: 4 }], 'each worker asked for its newest 4');
  t.is(statsReads(), 0, 'not read from the workers\' stats');
  t.is(body.slowerThanUs, 300);
  t.is(body.maxLen, 16);
  t.deepEqual(
    body.entries.map((e) => e.timeMs),
    [7_000, 6_000, 5_000, 4_000],
  );
  t.deepEqual(body.entries[0], { id: 1 * 1024 + 3, time: 7, timeMs: 7_000, durationUs: 5003, args: ['get', 'w3:7000'], client: '127.0.0.1:1003', name: 'c3' });
  t.deepEqual(Object.keys(body.entries[1]), ['id', 'time', 'timeMs', 'durationUs', 'args', 'client', 'name'], 'the same fields, in the same order');

  const all = (await slowlog(get('count=-1'))) as { entries: Array<{ timeMs: number }> };
  t.deepEqual(all.entries.map((e) => e.timeMs), [7_000, 6_000, 5_000, 4_000, 3_000, 2_000, 1_000]);
  const byDefault = (await slowlog(get(''))) as { entries: unknown[] };
  t.is(byDefault.entries.length, 7, 'count defaults to 10');
  t.deepEqual(pool.asked.at(-1), { op: 'slowlog-get', count: 10 });
  const notANumber = (await slowlog(get('count=x'))) as { entries: unknown[] };
  t.is(notANumber.entries.length, 7);
  t.deepEqual(pool.asked.at(-1), { op: 'slowlog-get', count: 10 });
});

test('GET /slowlog: a worker that does not answer in time is left out; a RESET from the primary that misses one rejects', async (t) => {
  const rings = new Map([
    [1, ring(1, [1_000])],
    [2, ring(2, [2_000])],
  ]);
  const relay = new ClientsRelay(new FakePool(rings, [2]), silent, 50);
  const { routes } = await observabilityRoutes((q) => relay.query(q));
  const body = (await routes.get('GET /slowlog')!(get('count=5'))) as { entries: Array<{ timeMs: number }> };
  t.deepEqual(body.entries.map((e) => e.timeMs), [1_000], 'worker 2 left out');

  const err = await t.throwsAsync(relay.query({ op: 'slowlog-reset' }), { instanceOf: WorkersQueryError });
  t.is(err?.message, 'worker(s) 2 did not answer within 50 ms');
  t.is(rings.get(1)!.length, 0, 'worker 1 did reset');
});

test('no worker ready: an empty list', async (t) => {
  const relay = new ClientsRelay(new FakePool(new Map()), silent, 50);
  const { routes } = await observabilityRoutes((q) => relay.query(q));
  t.deepEqual(await routes.get('GET /slowlog')!(get('')), { slowerThanUs: 300, maxLen: 16, entries: [] });
});
