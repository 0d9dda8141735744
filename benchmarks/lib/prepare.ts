/**
 * Before measuring a system: check that it answers the benchmark's commands exactly as Redis
 * would (redis-benchmark would count error replies as requests), then fill the keyspace through
 * it so GET and MGET hit real values wherever that system places each key.
 */
import type tls from 'node:tls';
import { pipeline, Reply } from './resp';
import { BENCH_VALUE, KEYSPACE, keyName, MULTI_KEYS } from './workloads';

function show(reply: Reply): string {
  if (reply instanceof Error) return `-${reply.message}`;
  return JSON.stringify(reply);
}

/** Throws with the first difference from the replies a single Redis gives. */
export async function checkSystem(port: number, options: { tls?: tls.ConnectionOptions } = {}): Promise<void> {
  const keys = Array.from({ length: MULTI_KEYS }, (_, i) => `bench:check:${i}`);
  const values = keys.map((k, i) => `${i}-${BENCH_VALUE}`);
  const commands: string[][] = [
    ['SET', 'bench:check:single', 'one'],
    ['GET', 'bench:check:single'],
    ['MSET', ...keys.flatMap((k, i) => [k, values[i]])],
    ['MGET', ...keys, 'bench:check:missing'],
    ['DEL', 'bench:check:single', ...keys],
  ];
  const expected: Reply[] = ['OK', 'one', 'OK', [...values, null], MULTI_KEYS + 1];
  const replies = await pipeline(port, commands, { timeoutMs: 10_000, tls: options.tls });
  for (let i = 0; i < commands.length; i++) {
    if (show(replies[i]) !== show(expected[i])) {
      throw new Error(`${commands[i][0]} replied ${show(replies[i]).slice(0, 200)}, expected ${show(expected[i]).slice(0, 200)}`);
    }
  }
}

/** SET every benchmark key (KEYSPACE of them) through the system, pipelined. */
export async function fillKeyspace(port: number, timeoutMs = 120_000, options: { tls?: tls.ConnectionOptions } = {}): Promise<void> {
  const commands = Array.from({ length: KEYSPACE }, (_, i) => ['SET', keyName(i), BENCH_VALUE]);
  const replies = await pipeline(port, commands, { window: 2000, timeoutMs, tls: options.tls });
  const bad = replies.find((r) => r !== 'OK');
  if (bad !== undefined) throw new Error(`filling the keyspace: SET replied ${show(bad)}`);
}
