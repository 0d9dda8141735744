/**
 * The workloads, as redis-benchmark arguments. Keys are `key:<12 digits>` over 0..keyspace-1,
 * the same names redis-benchmark's own SET/GET tests use, so the keyspace filled before the runs
 * serves GET and MGET alike. Each `__rand_int__` in a custom command is replaced independently,
 * so the 10 keys of an MSET/MGET spread over the shards (no shared hash tag).
 */
export const KEYSPACE = 100_000;
export const VALUE_BYTES = 64;
export const MULTI_KEYS = 10;
export const CLIENTS = 50;
export const PIPELINES = [1, 16] as const;

export interface Workload {
  id: 'set' | 'get' | 'mset10' | 'mget10';
  label: string;
  /** redis-benchmark arguments after the common ones (host, port, -c, -n, -P, -r, --csv) */
  args: string[];
  /** requests per run at -P 1 and -P 16 in a full run (quick mode divides them) */
  requests: Record<number, number>;
}

export const BENCH_VALUE = 'v'.repeat(VALUE_BYTES);

export function keyName(i: number): string {
  return `key:${String(i).padStart(12, '0')}`;
}

export const WORKLOADS: Workload[] = [
  { id: 'set', label: 'SET', args: ['-t', 'set', '-d', String(VALUE_BYTES)], requests: { 1: 150_000, 16: 1_000_000 } },
  { id: 'get', label: 'GET', args: ['-t', 'get', '-d', String(VALUE_BYTES)], requests: { 1: 150_000, 16: 1_000_000 } },
  {
    id: 'mset10',
    label: `MSET ${MULTI_KEYS} keys`,
    args: ['mset', ...Array.from({ length: MULTI_KEYS }, () => ['key:__rand_int__', BENCH_VALUE]).flat()],
    requests: { 1: 60_000, 16: 200_000 },
  },
  {
    id: 'mget10',
    label: `MGET ${MULTI_KEYS} keys`,
    args: ['mget', ...Array.from({ length: MULTI_KEYS }, () => 'key:__rand_int__')],
    requests: { 1: 60_000, 16: 200_000 },
  },
];

/** The full redis-benchmark argument list for one run. */
export function benchmarkArgs(port: number, workload: Workload, pipeline: number, requests: number): string[] {
  return [
    '-h', '127.0.0.1',
    '-p', String(port),
    '-c', String(CLIENTS),
    '-n', String(requests),
    '-P', String(pipeline),
    '-r', String(KEYSPACE),
    '--csv',
    ...workload.args,
  ];
}
