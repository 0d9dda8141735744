/**
 * The primary's question to its workers for the health checks (src/supervisor/ActivityRelay.ts),
 * on a fake pool: answers are concatenated, a silent worker makes the answer incomplete, no
 * answer at all is null.
 */
import { EventEmitter } from 'node:events';
import test from 'ava';
import { ActivityRelay } from '../../src/supervisor/ActivityRelay';
import type { BackendActivity, PrimaryToWorker } from '../../src/supervisor/messages';
import type { WorkerSlot } from '../../src/supervisor/WorkerPool';

class FakePool extends EventEmitter {
  readonly sent: Array<{ slot: number; message: PrimaryToWorker }> = [];
  constructor(readonly slots: WorkerSlot[]) {
    super();
  }
  ready(): WorkerSlot[] {
    return this.slots;
  }
  send(slot: WorkerSlot, message: PrimaryToWorker): void {
    this.sent.push({ slot: slot.id, message });
  }
  answer(slot: number, backends: BackendActivity[]): void {
    const m = this.sent.find((s) => s.slot === slot)!.message as { requestId: number };
    this.emit('activity', this.slots.find((s) => s.id === slot), { requestId: m.requestId, backends });
  }
}

const slot = (id: number) => ({ id }) as WorkerSlot;
const entry = (address: string): BackendActivity => ({ address, inFlight: 1, oldestMs: 5, lastReplyMs: 5, slow: null });

test('every worker is asked about the addresses; their entries are concatenated', async (t) => {
  const pool = new FakePool([slot(1), slot(2)]);
  const relay = new ActivityRelay(pool);
  const answer = relay.query(['h:1'], 1000);
  t.deepEqual(pool.sent.map((s) => [s.slot, s.message.type, (s.message as { addresses: string[] }).addresses]), [[1, 'activity-request', ['h:1']], [2, 'activity-request', ['h:1']]]);
  pool.answer(1, [entry('h:1')]);
  pool.answer(2, []);
  t.deepEqual(await answer, { backends: [entry('h:1')], complete: true });
});

test('a worker that does not answer in time leaves the answer incomplete; none answering gives null', async (t) => {
  const pool = new FakePool([slot(1), slot(2)]);
  const relay = new ActivityRelay(pool);
  const partial = relay.query(['h:1'], 50);
  pool.answer(2, [entry('h:1')]);
  t.deepEqual(await partial, { backends: [entry('h:1')], complete: false });
  t.is(await relay.query(['h:1'], 50), null);
  t.is(await new ActivityRelay(new FakePool([])).query(['h:1'], 50), null, 'no ready worker');
});
