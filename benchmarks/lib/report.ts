/** Text renderings of the results: a fixed-width table for stdout (diffable) and Markdown. */
import os from 'node:os';
import type { Cell, TargetCheck } from './results';
import type { Machine } from './machine';

export interface SystemInfo {
  id: string;
  label: string;
  note?: string;
}

export function num(value: number | null, digits: number): string {
  return value === null ? '-' : value.toFixed(digits);
}

export function int(value: number | null): string {
  return value === null ? '-' : String(Math.round(value));
}

export function times(value: number | null): string {
  return value === null ? '-' : `${value.toFixed(2)}x`;
}

const COLUMNS = ['workload', 'P', 'system', 'req/s', 'p50 ms', 'p99 ms', 'cpu us/req', 'user us/req', 'vs twemproxy', 'vs redis', 'cpu vs twem'];

function rowValues(cell: Cell, labels: Map<string, string>, useLabels: boolean): string[] {
  return [
    cell.workload,
    String(cell.pipeline),
    useLabels ? labels.get(cell.system) ?? cell.system : cell.system,
    int(cell.rps),
    num(cell.p50Ms, 3),
    num(cell.p99Ms, 3),
    num(cell.cpuUsPerRequest, 2),
    num(cell.cpuUserUsPerRequest, 2),
    times(cell.rpsVsTwemproxy),
    times(cell.rpsVsDirect),
    times(cell.cpuVsTwemproxy),
  ];
}

/** Columns padded to a fixed width, the first `textColumns` left-aligned, the rest right-aligned. */
export function alignedRows(header: string[], rows: string[][], textColumns = 3): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all
    .map((r) => r.map((v, i) => (i < textColumns ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ').trimEnd())
    .join('\n');
}

/** A Markdown table, the first `textColumns` left-aligned, the rest right-aligned. */
export function markdownRows(header: string[], rows: string[][], textColumns = 3): string {
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i < textColumns ? '---' : '---:')).join(' | ')} |`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

/** A fixed-width table, one line per cell, in a stable order: diff two runs line by line. */
export function textTable(cells: Cell[]): string {
  return alignedRows(COLUMNS, cells.map((c) => rowValues(c, new Map(), false)));
}

export function markdownTable(cells: Cell[], systems: SystemInfo[]): string {
  const labels = new Map(systems.map((s) => [s.id, s.label]));
  const header = ['workload', '-P', 'system', 'requests/s', 'p50 ms', 'p99 ms', 'CPU µs/request', 'of which user µs', 'vs Twemproxy', 'vs direct Redis', 'CPU vs Twemproxy'];
  return markdownRows(header, cells.map((c) => rowValues(c, labels, true)));
}

function verdict(ok: boolean | null): string {
  return ok === null ? 'n/a' : ok ? 'met' : '**missed**';
}

export function markdownTargets(checks: TargetCheck[]): string {
  const lines = [
    '| workload | -P | best Kvstore | throughput vs Twemproxy (needed) | CPU/request vs Twemproxy (≤ 1.5x) | p99 vs Twemproxy (≤ 1x) |',
    '| --- | --- | --- | ---: | ---: | ---: |',
  ];
  for (const c of checks) {
    lines.push(
      `| ${c.workload} | ${c.pipeline} | ${c.best ?? '-'} | ${times(c.throughput)} (≥ ${c.throughputNeeded}x): ${verdict(c.throughputOk)} | ${times(c.cpu)}: ${verdict(c.cpuOk)} | ${times(c.p99)}: ${verdict(c.p99Ok)} |`,
    );
  }
  return lines.join('\n');
}

export function markdownMachine(m: Machine): string {
  return [
    `- date: ${m.date}`,
    `- CPU: ${m.cpuModel}, ${m.nproc} cores available (nproc), ${m.memoryGiB} GiB RAM, ${m.kernel}`,
    `- load average at start: ${m.loadAverageAtStart.join(' ')}`,
    `- Node ${m.node}, redis-server ${m.redisServer}, redis-benchmark ${m.redisBenchmark}, Twemproxy ${m.twemproxy ?? 'not installed'}`,
    `- Kvstore commit: ${m.kvstoreCommit ?? 'unknown'}`,
  ].join('\n');
}

/** requests/s per system side by side, one row per (workload, pipeline): the README's table. */
export function markdownSummary(cells: Cell[], systems: SystemInfo[], workloadLabels: Map<string, string>): string {
  const shown = systems.filter((s) => cells.some((c) => c.system === s.id));
  const kvstores = shown.filter((s) => s.id.startsWith('kvstore'));
  const header = ['workload', '-P', ...shown.map((s) => `${s.label} req/s (p99 ms)`), ...(kvstores.length ? ['best Kvstore vs Twemproxy'] : [])];
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`];
  const keys = [...new Set(cells.map((c) => `${c.workload}\u0000${c.pipeline}`))];
  for (const key of keys) {
    const [workload, p] = key.split('\u0000');
    const row = cells.filter((c) => c.workload === workload && String(c.pipeline) === p);
    const values = shown.map((s) => {
      const c = row.find((x) => x.system === s.id);
      return c && c.rps !== null ? `${int(c.rps)} (${num(c.p99Ms, 2)})` : '-';
    });
    const best = row.filter((c) => c.system.startsWith('kvstore') && c.rps !== null).sort((a, b) => (b.rps ?? 0) - (a.rps ?? 0))[0];
    lines.push(`| ${workloadLabels.get(workload) ?? workload} | ${p} | ${values.join(' | ')}${kvstores.length ? ` | ${times(best?.rpsVsTwemproxy ?? null)}` : ''} |`);
  }
  return lines.join('\n');
}

/**
 * The head of a results JSON, the same for every redis-benchmark run: the command that made it
 * (`npm run <script> -- args`) and the settings every sample shares.
 */
export function runHeader(
  script: string,
  run: { reps: number; scale: number; clients: number; keyspace: number; valueBytes: number; pipelines: number[]; startedAt: number },
  extra: Record<string, unknown>,
): { command: string; elapsed: number; loadAtEnd: number[]; settings: Record<string, unknown> } {
  const args = process.argv.slice(2);
  const elapsed = Math.round((Date.now() - run.startedAt) / 1000);
  const loadAtEnd = os.loadavg().map((v) => Math.round(v * 100) / 100);
  const { reps, scale, clients, keyspace, valueBytes, pipelines } = run;
  return {
    command: `npm run ${script}${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`,
    elapsed,
    loadAtEnd,
    settings: { reps, scale, clients, keyspace, valueBytes, pipelines, ...extra, elapsedSeconds: elapsed, loadAverageAtEnd: loadAtEnd },
  };
}
