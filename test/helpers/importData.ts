/**
 * Data for the import tests and benchmark: a source keyspace with every Redis 7.0 type (HyperLogLog
 * and bitmaps are strings), a mix of TTLs and a few big keys; a concurrent writer; and a
 * comparison of two keyspaces by type, logical value and TTL (not DUMP bytes: a hash copied in
 * chunks may be encoded differently and still be equal).
 */
import { RespArg, RespClient, RespValue } from '../../src/resp';

export const KEY_TYPES = ['string', 'list', 'set', 'zset', 'hash', 'stream', 'hll', 'bitmap'] as const;

async function send(client: RespClient, commands: RespArg[][]): Promise<void> {
  for (let i = 0; i < commands.length; i += 2000) {
    const replies = await client.pipeline(commands.slice(i, i + 2000));
    const bad = replies.find((r) => r instanceof Error);
    if (bad) throw bad;
  }
}

/** Commands creating key number `i` (type by i % 8; TTL on every third key, 60-600 s). */
export function keyCommands(i: number, prefix = 'k:'): RespArg[][] {
  const key = `${prefix}${i}`;
  const t = KEY_TYPES[i % KEY_TYPES.length];
  const cmds: RespArg[][] = [];
  switch (t) {
    case 'string': cmds.push(['SET', key, `value-${i}-${'x'.repeat(i % 50)}`]); break;
    case 'list': cmds.push(['RPUSH', key, 'a', `b${i}`, 'c', String(i)]); break;
    case 'set': cmds.push(['SADD', key, 'm1', `m${i}`, 'm3']); break;
    case 'zset': cmds.push(['ZADD', key, '1.5', 'a', String(i / 7), `b${i}`, '-inf', 'c']); break;
    case 'hash': cmds.push(['HSET', key, 'f1', 'v1', `f${i}`, `v${i}`]); break;
    case 'stream':
      cmds.push(['XADD', key, '*', 'f', `v${i}`], ['XADD', key, '*', 'g', 'w']);
      if (i % 16 === 5) cmds.push(['XGROUP', 'CREATE', key, 'grp', '0'], ['XREADGROUP', 'GROUP', 'grp', 'c1', 'COUNT', 1, 'STREAMS', key, '>']);
      break;
    case 'hll': cmds.push(['PFADD', key, 'a', 'b', `c${i}`]); break;
    case 'bitmap': cmds.push(['SETBIT', key, i % 1000, 1], ['SETBIT', key, 7, 1]); break;
  }
  if (i % 3 === 0) cmds.push(['PEXPIRE', key, 60_000 + ((i * 7919) % 540_000)]);
  return cmds;
}

/** `count` keys of every type, plus big keys: a hash, a set and a zset of `bigElements` each, a big list. */
export async function populate(client: RespClient, count: number, bigElements = 0, prefix = 'k:'): Promise<void> {
  let batch: RespArg[][] = [];
  for (let i = 0; i < count; i++) {
    batch.push(...keyCommands(i, prefix));
    if (batch.length >= 5000) {
      await send(client, batch);
      batch = [];
    }
  }
  await send(client, batch);
  if (bigElements > 0) {
    for (let from = 0; from < bigElements; from += 1000) {
      const fields: string[] = [];
      const members: string[] = [];
      const scored: string[] = [];
      for (let j = from; j < Math.min(bigElements, from + 1000); j++) {
        fields.push(`field-${j}`, `value-${j}`);
        members.push(`member-${j}`);
        scored.push(String(j * 1.25), `member-${j}`);
      }
      await send(client, [
        ['HSET', `${prefix}big:hash`, ...fields],
        ['SADD', `${prefix}big:set`, ...members],
        ['ZADD', `${prefix}big:zset`, ...scored],
        ['RPUSH', `${prefix}big:list`, ...members],
      ]);
    }
    await send(client, [['PEXPIRE', `${prefix}big:hash`, 300_000]]);
  }
}

export interface Writer {
  ops: number;
  deleted: Set<string>;
  stop(): Promise<void>;
}

/**
 * A concurrent writer on the source: small pipelines of updates (every type), new keys, TTL
 * changes and deletions, about `opsPerSecond`.
 */
export function startWriter(client: RespClient, count: number, opsPerSecond = 2000, prefix = 'k:'): Writer {
  let stopped = false;
  let seq = 0;
  const w: Writer = { ops: 0, deleted: new Set(), stop: async () => { stopped = true; await loop; } };
  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      const cmds: RespArg[][] = [];
      for (let n = 0; n < 20; n++) {
        const i = (seq * 7919 + n * 104729) % count;
        const key = `${prefix}${i}`;
        seq++;
        switch (seq % 10) {
          case 0: cmds.push(['DEL', key]); w.deleted.add(key); break;
          case 1: cmds.push(['PEXPIRE', key, 120_000]); break;
          case 2: cmds.push(...keyCommands(count + seq, `${prefix}new:`)); break;
          case 3: cmds.push(['PERSIST', key]); break;
          default: cmds.push(...keyCommands(i, prefix)); w.deleted.delete(key);
        }
      }
      const replies = await client.pipeline(cmds);
      w.ops += replies.length;
      const wait = (cmds.length * 1000) / opsPerSecond - (Date.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return w;
}

/** Every key of a redis-server (or of Kvstore through the proxy), by SCAN (without SCAN's repeats). */
export async function allKeys(client: RespClient): Promise<Buffer[]> {
  const keys = new Map<string, Buffer>();
  let cursor = '0';
  do {
    const page = (await client.command(['SCAN', cursor, 'COUNT', 1000])) as RespValue[];
    cursor = String(page[0]);
    for (const k of page[1] as Buffer[]) keys.set(k.toString('latin1'), k);
  } while (cursor !== '0');
  return [...keys.values()];
}

const text = (v: RespValue): string => (Array.isArray(v) ? `[${v.map(text).join(',')}]` : Buffer.isBuffer(v) ? v.toString('latin1') : String(v));

function pairs(v: RespValue): string[] {
  const a = v as RespValue[];
  const out: string[] = [];
  for (let i = 0; i < a.length; i += 2) out.push(`${text(a[i])}=${text(a[i + 1])}`);
  return out;
}

export interface KeyState {
  type: string;
  value: string;
  pttl: number;
}

/** A huge hash read with HSCAN (HGETALL of a million fields would stall a shard past its health checks). */
async function readHugeHash(client: RespClient, key: Buffer): Promise<KeyState | null> {
  const fields: string[] = [];
  let cursor = '0';
  do {
    const page = (await client.command(['HSCAN', key, cursor, 'COUNT', 1000])) as RespValue[];
    cursor = String(page[0]);
    fields.push(...pairs(page[1]));
  } while (cursor !== '0');
  if (fields.length === 0) return null;
  // HSCAN may repeat a field; a hash has each once.
  return { type: 'hash', value: [...new Set(fields)].sort().join('\n'), pttl: Number(await client.command(['PTTL', key])) };
}

/** Type, canonical value and PTTL of each key (null: missing). Names in `huge` are hashes read in chunks. */
export async function readKeys(client: RespClient, keys: readonly Buffer[], huge: ReadonlySet<string> = new Set()): Promise<(KeyState | null)[]> {
  const out: (KeyState | null)[] = [];
  const hugeKeys = keys.filter((k) => huge.has(k.toString('latin1')));
  const hugeStates = new Map<string, KeyState | null>();
  for (const k of hugeKeys) hugeStates.set(k.toString('latin1'), await readHugeHash(client, k));
  if (hugeKeys.length) keys = keys.filter((k) => !huge.has(k.toString('latin1')));
  for (let from = 0; from < keys.length; from += 500) {
    const slice = keys.slice(from, from + 500);
    const types = await client.pipeline(slice.map((k) => ['TYPE', k]));
    types.forEach((ty, j) => {
      if (ty instanceof Error) throw new Error(`TYPE ${slice[j].toString('latin1')} on ${client.address}: ${ty.message}`);
    });
    const cmds: RespArg[][] = [];
    slice.forEach((k, j) => {
      const t = String(types[j]);
      cmds.push(['PTTL', k]);
      if (t === 'string') cmds.push(['GET', k]);
      else if (t === 'list') cmds.push(['LRANGE', k, 0, -1]);
      else if (t === 'set') cmds.push(['SMEMBERS', k]);
      else if (t === 'zset') cmds.push(['ZRANGE', k, 0, -1, 'WITHSCORES']);
      else if (t === 'hash') cmds.push(['HGETALL', k]);
      else if (t === 'stream') cmds.push(['XRANGE', k, '-', '+'], ['XINFO', 'GROUPS', k], ['XPENDING', k, 'grp']);
    });
    const replies = (await client.pipeline(cmds)) as RespValue[];
    replies.forEach((rep, j) => {
      // XPENDING of a stream without the group is expected; anything else is a failure.
      if (rep instanceof Error && !/NOGROUP/.test(rep.message)) throw new Error(`${String(cmds[j][0])} ${String(cmds[j][1])} on ${client.address}: ${rep.message}`);
    });
    let r = 0;
    slice.forEach((_, j) => {
      const t = String(types[j]);
      const pttl = Number(replies[r++]);
      if (t === 'none') {
        out.push(null);
        return;
      }
      let value: string;
      if (t === 'set') value = (replies[r++] as Buffer[]).map(text).sort().join('\n');
      else if (t === 'hash') value = pairs(replies[r++]).sort().join('\n');
      else if (t === 'stream') {
        value = text(replies[r++]) + '|' + text(replies[r++]);
        const pending = replies[r++];
        value += '|' + (pending instanceof Error ? 'no-group' : text(pending));
      } else value = text(replies[r++]);
      out.push({ type: t, value, pttl });
    });
  }
  for (const k of hugeKeys) out.push(hugeStates.get(k.toString('latin1'))!);
  return out;
}

export interface Comparison {
  keys: number;
  missing: string[];
  different: string[];
  ttlOff: string[];
  /** Largest TTL difference seen (ms). */
  maxTtlDiffMs: number;
}

/** Compare `keys` on the source and in Kvstore: type and value equal, TTL within `ttlToleranceMs`. */
export async function compareKeys(source: RespClient, kvstore: RespClient, keys: readonly Buffer[], ttlToleranceMs = 1000, huge: ReadonlySet<string> = new Set()): Promise<Comparison> {
  // readKeys puts the huge hashes last: order the names the same way.
  keys = [...keys.filter((k) => !huge.has(k.toString('latin1'))), ...keys.filter((k) => huge.has(k.toString('latin1')))];
  // Both sides a chunk at a time, side by side, so TTLs are read at nearly the same moment.
  const a: (KeyState | null)[] = [];
  const b: (KeyState | null)[] = [];
  for (let from = 0; from < keys.length; from += 500) {
    const chunk = keys.slice(from, from + 500);
    const [x, y] = await Promise.all([readKeys(source, chunk, huge), readKeys(kvstore, chunk, huge)]);
    a.push(...x);
    b.push(...y);
  }
  const c: Comparison = { keys: keys.length, missing: [], different: [], ttlOff: [], maxTtlDiffMs: 0 };
  keys.forEach((k, i) => {
    const name = k.toString('latin1');
    const s = a[i];
    const d = b[i];
    if (!s) {
      if (d) c.different.push(`${name} (exists only in Kvstore)`);
      return;
    }
    if (!d) c.missing.push(name);
    else if (s.type !== d.type || s.value !== d.value) c.different.push(`${name} (${s.type} vs ${d.type})`);
    else if ((s.pttl < 0) !== (d.pttl < 0)) c.ttlOff.push(`${name} (${s.pttl} vs ${d.pttl})`);
    else if (s.pttl >= 0) {
      const diff = Math.abs(s.pttl - d.pttl);
      c.maxTtlDiffMs = Math.max(c.maxTtlDiffMs, diff);
      if (diff > ttlToleranceMs) c.ttlOff.push(`${name} (${s.pttl} vs ${d.pttl})`);
    }
  });
  return c;
}
