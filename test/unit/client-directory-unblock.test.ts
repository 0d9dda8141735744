/**
 * The `unblock` client query (CLIENT UNBLOCK of another worker's client): each worker answers
 * from its own DedicatedPool through ClientDirectory.unblockHere, and the relay's sum is the reply.
 */
import test from 'ava';
import { ClientDirectory } from '../../src/proxy/clients/ClientDirectory';
import { isLocalClientId, runLocalQuery } from '../../src/proxy/clients/ClientQuery';

test('runLocal(unblock) asks unblockHere and counts 1 only when it unblocked', async (t) => {
  const dir = new ClientDirectory(() => [], () => '127.0.0.1:1');
  t.deepEqual(await dir.runLocal({ op: 'unblock', id: 513, mode: 'TIMEOUT' }), { lines: [], killed: 0 }, 'no pool wired: nobody to unblock');
  const asked: [number, string][] = [];
  dir.unblockHere = (id, mode) => {
    asked.push([id, mode]);
    return Promise.resolve(id === 513);
  };
  t.deepEqual(await dir.runLocal({ op: 'unblock', id: 513, mode: 'ERROR' }), { lines: [], killed: 1 });
  t.deepEqual(await dir.runLocal({ op: 'unblock', id: 769, mode: 'TIMEOUT' }), { lines: [], killed: 0 });
  t.deepEqual(asked, [[513, 'ERROR'], [769, 'TIMEOUT']]);
});

test('runLocalQuery refuses unblock (the directory applies it) and local ids are this process\'s slot', (t) => {
  t.throws(() => runLocalQuery([], '', { op: 'unblock', id: 1, mode: 'TIMEOUT' }), { message: /unblock is applied by the ClientDirectory/ });
  // Not a cluster worker: slot 0.
  t.true(isLocalClientId(256));
  t.false(isLocalClientId(257));
  t.false(isLocalClientId(0));
  t.false(isLocalClientId(-256));
});
