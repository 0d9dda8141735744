/**
 * Parses redis-benchmark 7's `--csv` output. 7.x prints one header line and one line per test:
 * "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
 * With `-e`, server errors are printed on other lines ("Error from server: ..."): we count them,
 * because redis-benchmark counts an error reply as a completed request.
 */
export interface BenchmarkRow {
  test: string;
  rps: number;
  avgMs: number;
  minMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface ParsedBenchmark {
  rows: BenchmarkRow[];
  errorLines: string[];
}

/** Split one CSV line of double-quoted fields (redis-benchmark doubles embedded quotes). */
export function splitCsvLine(line: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] !== '"') return null;
    let value = '';
    i++;
    for (;;) {
      if (i >= line.length) return null;
      if (line[i] === '"') {
        if (line[i + 1] === '"') {
          value += '"';
          i += 2;
          continue;
        }
        i++;
        break;
      }
      value += line[i++];
    }
    fields.push(value);
    if (i === line.length) break;
    if (line[i] !== ',') return null;
    i++;
  }
  return fields;
}

const HEADER = ['test', 'rps', 'avg_latency_ms', 'min_latency_ms', 'p50_latency_ms', 'p95_latency_ms', 'p99_latency_ms', 'max_latency_ms'];

export function parseRedisBenchmarkCsv(output: string): ParsedBenchmark {
  const rows: BenchmarkRow[] = [];
  const errorLines: string[] = [];
  let header: string[] | null = null;
  // Progress lines end in '\r' without '\n'; keep only the text after the last '\r'.
  for (const rawLine of output.split('\n')) {
    const line = rawLine.slice(rawLine.lastIndexOf('\r') + 1).trim();
    if (!line) continue;
    if (/error/i.test(line) && !line.startsWith('"')) {
      errorLines.push(line);
      continue;
    }
    const fields = splitCsvLine(line);
    if (!fields) continue;
    if (fields[0] === 'test') {
      header = fields;
      continue;
    }
    const names = header ?? HEADER;
    const get = (name: string): number => {
      const index = names.indexOf(name);
      return index < 0 ? NaN : Number(fields[index]);
    };
    const row: BenchmarkRow = {
      test: fields[0],
      rps: get('rps'),
      avgMs: get('avg_latency_ms'),
      minMs: get('min_latency_ms'),
      p50Ms: get('p50_latency_ms'),
      p95Ms: get('p95_latency_ms'),
      p99Ms: get('p99_latency_ms'),
      maxMs: get('max_latency_ms'),
    };
    if (Number.isFinite(row.rps)) rows.push(row);
  }
  return { rows, errorLines };
}
