/** Runs redis-benchmark once, bounded in time, and parses its CSV row. */
import { startProcess } from './processes';
import { parseRedisBenchmarkCsv, BenchmarkRow } from './redisBenchmarkCsv';

export interface BenchmarkRun {
  row: BenchmarkRow | null;
  error: string | null;
  wallSeconds: number;
}

export async function runRedisBenchmark(args: string[], timeoutMs: number): Promise<BenchmarkRun> {
  const started = Date.now();
  const p = startProcess('redis-benchmark', 'redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  p.child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void p.stop(1000);
  }, timeoutMs);
  await p.exited;
  clearTimeout(timer);
  await p.stop(0); // forget it in the registry
  const wallSeconds = (Date.now() - started) / 1000;
  const parsed = parseRedisBenchmarkCsv(stdout);
  if (timedOut) return { row: null, error: `timed out after ${timeoutMs} ms`, wallSeconds };
  if (parsed.errorLines.length > 0) return { row: null, error: parsed.errorLines[0], wallSeconds };
  if (parsed.rows.length !== 1) {
    const detail = (stderr || stdout).trim().split('\n').slice(-2).join(' | ');
    return { row: null, error: `expected one CSV row, got ${parsed.rows.length}: ${detail}`, wallSeconds };
  }
  return { row: parsed.rows[0], error: null, wallSeconds };
}
