/**
 * Regenerates src/commands/commands.json — the single command table — from a real
 * redis-server's `COMMAND` reply (names, arity, flags, Redis 7 key specs, subcommands) plus the
 * routing rules in src/commands/routing.ts (and NEWER_SUBCOMMANDS below). Usage: `npm run build && node dist/scripts/gen-command-table.js`.
 * It starts its own redis-server on a free loopback port and stops it afterwards.
 */
import fs from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { startRedis } from '../test/helpers/redis';
import { classify } from '../src/commands/routing';
import type { CommandEntry, KeySpec } from '../src/commands/types';

type Raw = unknown[];

/**
 * Subcommands of later Redis versions that the proxy answers itself, so its table has them even
 * though the installed (7.0) shards do not: Redis 7.2's CLIENT NO-TOUCH, in COMMAND's own shape
 * with 7.2's arity and flags (src/commands/client-no-touch.json there).
 */
const NEWER_SUBCOMMANDS: Record<string, Raw[]> = {
  client: [['client|no-touch', 3, ['noscript', 'loading', 'stale'], 0, 0, 0, [], [], [], []]],
};

function pairs(list: Raw): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[String(list[i])] = list[i + 1];
  return out;
}

function keySpec(raw: Raw): KeySpec {
  const spec = pairs(raw);
  const begin = pairs(spec.begin_search as Raw);
  const find = pairs(spec.find_keys as Raw);
  const beginSpec = pairs((begin.spec as Raw) ?? []);
  const findSpec = pairs((find.spec as Raw) ?? []);
  const out: KeySpec = { flags: (spec.flags as string[]).map(String), begin: 'unknown', find: 'unknown' };
  if (begin.type === 'index') out.begin = { index: Number(beginSpec.index) };
  else if (begin.type === 'keyword') out.begin = { keyword: String(beginSpec.keyword), startFrom: Number(beginSpec.startfrom) };
  if (find.type === 'range') out.find = { lastKey: Number(findSpec.lastkey), step: Number(findSpec.keystep), limit: Number(findSpec.limit) };
  else if (find.type === 'keynum') out.find = { keyNumIdx: Number(findSpec.keynumidx), firstKey: Number(findSpec.firstkey), step: Number(findSpec.keystep) };
  return out;
}

function entry(raw: Raw, container?: string): CommandEntry {
  const [name, arity, flags, , , , , , specs] = raw as [string, number, string[], number, number, number, string[], string[], Raw[]];
  const base = {
    name: String(name).toLowerCase(),
    container,
    arity: Number(arity),
    flags: (flags as unknown[]).map(String),
    keySpecs: (specs ?? []).map((s) => keySpec(s as Raw)),
  };
  const { routing, merge, reason } = classify(base);
  return { ...base, routing, ...(merge ? { merge } : {}), ...(reason ? { reason } : {}) };
}

async function main() {
  const server = await startRedis();
  const redis = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true });
  try {
    await redis.connect();
    const raw = (await redis.call('COMMAND')) as Raw[];
    const entries: CommandEntry[] = [];
    for (const cmd of raw.sort((a, b) => String(a[0]).localeCompare(String(b[0])))) {
      const top = entry(cmd);
      entries.push(top);
      const subs = [...(((cmd as Raw)[9] as Raw[] | undefined) ?? [])];
      for (const newer of NEWER_SUBCOMMANDS[top.name] ?? []) if (!subs.some((s) => s[0] === newer[0])) subs.push(newer);
      for (const sub of subs.sort((a, b) => String(a[0]).localeCompare(String(b[0])))) entries.push(entry(sub, top.name));
    }
    const version = String(await redis.call('INFO', 'server')).match(/redis_version:(\S+)/)?.[1];
    const file = path.join(__dirname, '../../src/commands/commands.json');
    fs.writeFileSync(file, JSON.stringify({ generatedFrom: `redis ${version}`, commands: entries }, null, 1) + '\n');
    console.log(`wrote ${entries.length} commands to ${file}`);
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
