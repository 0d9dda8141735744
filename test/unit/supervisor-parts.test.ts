/**
 * The supervisor's parts on fakes (no processes): the epoch barrier (waits for ready workers'
 * acks only, lets a dying worker go, names the late ones on timeout), the topology publisher
 * (persist, push, wait at every barrier), the listen port with port 0, and the port file.
 */
import test from 'ava';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TopologyError } from '../../src/errors';
import { EpochBarrier, WorkerEpochBarrier } from '../../src/supervisor/EpochBarrier';
import { ListenPort } from '../../src/supervisor/listen';
import type { PrimaryToWorker } from '../../src/supervisor/messages';
import { readPortFile, removePortFile, writePortFile } from '../../src/supervisor/portFile';
import { TopologyPublisher } from '../../src/supervisor/TopologyPublisher';
import type { WorkerSlot } from '../../src/supervisor/WorkerPool';
import type { TopologySnapshot } from '../../src/topology/types';

class FakePool extends EventEmitter {
  slots: WorkerSlot[];
  sent: Array<{ slot?: number; message: PrimaryToWorker }> = [];
  constructor(n: number) {
    super();
    this.slots = Array.from({ length: n }, (_, i) => ({ id: i + 1, pid: 100 + i, worker: {} as WorkerSlot['worker'], ready: true, ackedEpoch: 1, restarts: 0, consecutiveFailures: 0, startedAt: 0 }));
  }
  ack(id: number, epoch: number): void {
    const slot = this.slots[id - 1];
    slot.ackedEpoch = epoch;
    this.emit('ack', slot, epoch);
  }
  exit(id: number): void {
    const slot = this.slots[id - 1];
    slot.ready = false;
    slot.worker = undefined;
    this.emit('exit', slot, true);
  }
  broadcast(message: PrimaryToWorker): void {
    this.sent.push({ message });
  }
  send(slot: WorkerSlot, message: PrimaryToWorker): void {
    this.sent.push({ slot: slot.id, message });
  }
}

const settled = async (p: Promise<unknown>) => {
  let done = false;
  void p.then(() => (done = true), () => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

test('worker barrier: resolves once every ready worker acked; a worker not ready is not waited for', async (t) => {
  const pool = new FakePool(3);
  pool.slots[2].ready = false; // still starting: gets the current topology at `ready`
  const wait = new WorkerEpochBarrier(pool).wait(2, 5000);
  t.false(await settled(wait));
  pool.ack(1, 2);
  t.false(await settled(wait));
  pool.ack(2, 3); // a later epoch counts too
  t.true(await settled(wait));
  t.is(pool.listenerCount('ack'), 0, 'listeners removed');
});

test('worker barrier: a worker that dies is not waited for; a timeout names the late workers', async (t) => {
  const pool = new FakePool(2);
  const wait = new WorkerEpochBarrier(pool).wait(2, 5000);
  pool.ack(1, 2);
  pool.exit(2);
  t.true(await settled(wait));

  const late = new FakePool(2);
  late.ack(1, 4);
  const err = await t.throwsAsync(new WorkerEpochBarrier(late).wait(4, 30), { instanceOf: TopologyError });
  t.regex(err!.message, /not every worker acknowledged topology epoch 4 within 30 ms: worker 2 \(pid 101\) at epoch 1$/);
});

test('publisher: persists, pushes the snapshot, and waits at every barrier; a worker ready behind the epoch gets it', async (t) => {
  const pool = new FakePool(1);
  const store = new (class extends EventEmitter {
    snapshot = { epoch: 1, shards: [] } as unknown as TopologySnapshot;
    update(mutate: (d: TopologySnapshot) => TopologySnapshot | void) {
      const draft = structuredClone(this.snapshot);
      this.snapshot = { ...(mutate(draft) ?? draft), epoch: this.snapshot.epoch + 1 };
      this.emit('change', this.snapshot);
      return this.snapshot;
    }
  })();
  let releaseFleet!: () => void;
  const fleet: EpochBarrier = { wait: (epoch) => new Promise<void>((r) => (releaseFleet = () => (t.is(epoch, 2), r()))) };
  const publisher = new TopologyPublisher(store, pool, new WorkerEpochBarrier(pool));
  publisher.addBarrier(fleet);

  const update = publisher.update((d) => void (d.mode = 'store'));
  t.is(store.snapshot.epoch, 2, 'persisted before anything waits');
  t.deepEqual(pool.sent.map((s) => [s.slot, s.message.type]), [[undefined, 'topology']], 'pushed to every ready worker');
  pool.ack(1, 2);
  t.false(await settled(update), 'the fleet barrier has not passed yet');
  releaseFleet();
  t.is((await update).mode, 'store');

  pool.slots[0].ackedEpoch = 1;
  pool.emit('ready', pool.slots[0]);
  t.deepEqual(pool.sent.at(-1), { slot: 1, message: { type: 'topology', snapshot: store.snapshot } });
});

test('listen port 0: the first worker fixes the port; shared-socket workers ask for 0 while another listens', (t) => {
  const fixed = new ListenPort({ host: '127.0.0.1', port: 7400 });
  t.deepEqual(fixed.forWorker(false), { host: '127.0.0.1', port: 7400 });
  t.false(fixed.fixedByFirstWorker);

  const shared = new ListenPort({ host: '127.0.0.1', port: 0 });
  t.false(shared.fixedByFirstWorker, 'node:cluster gives every listen(0) the same socket: start together');
  t.deepEqual(shared.forWorker(false), { host: '127.0.0.1', port: 0 });
  shared.bound({ host: '127.0.0.1', port: 41000 });
  shared.bound({ host: '127.0.0.1', port: 42000 });
  t.deepEqual(shared.address, { host: '127.0.0.1', port: 41000 }, 'the first report wins');
  t.deepEqual(shared.forWorker(true), { host: '127.0.0.1', port: 0 }, 'joins the shared socket');
  t.deepEqual(shared.forWorker(false), { host: '127.0.0.1', port: 41000 }, 'the shared socket closed with the last worker');

  const own = new ListenPort({ host: '127.0.0.1', port: 0 }, false);
  t.true(own.fixedByFirstWorker, 'own sockets (SO_REUSEPORT): the first worker binds alone');
  own.bound({ host: '127.0.0.1', port: 43000 });
  t.false(own.fixedByFirstWorker);
  t.deepEqual(own.forWorker(true), { host: '127.0.0.1', port: 43000 });
});

test('port file: written atomically, read back, removed only by the process that wrote it', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvstore-ports-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  t.is(readPortFile(dir), undefined);
  const ports = { pid: 4242, listen: { host: '127.0.0.1', port: 1 }, admin: { host: '127.0.0.1', port: 2 } };
  writePortFile(dir, ports);
  t.deepEqual(readPortFile(dir), ports);
  removePortFile(dir, 1); // another process's
  t.deepEqual(readPortFile(dir), ports);
  removePortFile(dir, 4242);
  t.is(readPortFile(dir), undefined);
});
