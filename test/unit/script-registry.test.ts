/**
 * ScriptRegistry on fakes: which masters a topology change starts serving from, what is loaded
 * into them, and that a failed load aborts the change (throws) instead of routing to a shard
 * without the scripts.
 */
import test from 'ava';
import pino from 'pino';
import type { RespClient, RespValue } from '../../src/resp';
import { newlyServing, ScriptLoadError, ScriptRegistry } from '../../src/scripts/ScriptRegistry';
import type { ShardInfo, TopologySnapshot } from '../../src/topology/types';

const shard = (name: string, master: string, state: ShardInfo['state'] = 'up'): ShardInfo => ({ name, master, replicas: [], state, slots: [] });
const snap = (shards: ShardInfo[], scripts?: TopologySnapshot['scripts']): TopologySnapshot => ({
  epoch: 1, mode: 'cache', hash: 'crc16', shards, migrations: [], keyRewrite: [], scripts,
});

test('newlyServing: a new shard, a new master and down → up; not an unchanged or a down shard', (t) => {
  const current = snap([shard('a', 'h:1'), shard('b', 'h:2'), shard('c', 'h:3', 'down'), shard('d', 'h:4')]);
  const next = snap([shard('a', 'h:1'), shard('b', 'h:9'), shard('c', 'h:3'), shard('d', 'h:4', 'down'), shard('e', 'h:5', 'joining')]);
  t.deepEqual(newlyServing(current, next).map((s) => s.name), ['b', 'c', 'e']);
});

function fakeConnect(fail?: string) {
  const sent: { address: string; commands: string[] }[] = [];
  const connect = async (address: string) => {
    if (address === 'down:1') throw new Error('refused');
    const entry = { address, commands: [] as string[] };
    sent.push(entry);
    return {
      pipeline: async (cmds: Buffer[][]) =>
        cmds.map((c) => {
          const text = c.map((b) => b.toString()).join(' ');
          entry.commands.push(text);
          return fail && text.includes(fail) ? new Error(`ERR ${fail}`) : ('OK' as RespValue);
        }),
      command: async () => Buffer.from('dump'),
      close: () => undefined,
    } as unknown as RespClient;
  };
  return { sent, connect };
}

const log = pino({ level: 'silent' });
const scripts = { lua: [Buffer.from('return 1').toString('base64')], functions: Buffer.from('payload').toString('base64') };

test('prepare loads every script and the functions into the new masters only', async (t) => {
  const { sent, connect } = fakeConnect();
  const current = snap([shard('a', 'h:1')], scripts);
  const r = new ScriptRegistry(() => current, async () => current, connect, log);
  await r.prepare(current, snap([shard('a', 'h:1'), shard('b', 'h:2')], scripts));
  t.deepEqual(sent, [{ address: 'h:2', commands: ['SCRIPT LOAD return 1', 'FUNCTION RESTORE payload REPLACE'] }]);
});

test('prepare with nothing recorded connects to nobody; a failed load or connect throws', async (t) => {
  const { sent, connect } = fakeConnect('RESTORE');
  const empty = snap([shard('a', 'h:1')]);
  const r = new ScriptRegistry(() => empty, async () => empty, connect, log);
  await r.prepare(empty, snap([shard('a', 'h:1'), shard('b', 'h:2')]));
  t.deepEqual(sent, []);
  await t.throwsAsync(r.prepare(snap([], scripts), snap([shard('b', 'h:2')], scripts)), { instanceOf: ScriptLoadError, message: /shard b \(h:2\) failed: ERR RESTORE/ });
  await t.throwsAsync(r.prepare(snap([], scripts), snap([shard('c', 'down:1')], scripts)), { instanceOf: ScriptLoadError, message: /cannot load scripts into shard c \(down:1\): refused/ });
});

test('changes are recorded in order: a script once, a flush, functions from FUNCTION DUMP', async (t) => {
  let current = snap([shard('a', 'h:1')]);
  const { connect } = fakeConnect();
  const r = new ScriptRegistry(() => current, async (mutate) => {
    const d = structuredClone(current);
    mutate(d);
    current = { ...d, epoch: d.epoch + 1 };
    return current;
  }, connect, log);
  void r.onChange({ type: 'script', body: 'YQ==' });
  void r.onChange({ type: 'script', body: 'YQ==' });
  void r.onChange({ type: 'script', body: 'Yg==' });
  await r.onChange({ type: 'functions' });
  t.deepEqual(current.scripts, { lua: ['YQ==', 'Yg=='], functions: Buffer.from('dump').toString('base64') });
  await r.onChange({ type: 'script-flush' });
  t.deepEqual(current.scripts!.lua, []);
});
