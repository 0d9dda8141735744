/**
 * Prometheus text exposition (format 0.0.4). Metrics come from sources: the supervisor adds the
 * core ones (clients, commands, backends, topology); other modules may add theirs with
 * `metrics.addSource(() => [...families])`.
 */
export type MetricType = 'counter' | 'gauge';

export interface MetricSample {
  labels?: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: MetricSample[];
}

export type MetricSource = () => MetricFamily[] | Promise<MetricFamily[]>;

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export function renderPrometheus(families: MetricFamily[]): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const f of families) {
    if (!NAME.test(f.name)) throw new Error(`invalid metric name ${JSON.stringify(f.name)}`);
    if (seen.has(f.name)) throw new Error(`metric ${f.name} is defined twice`);
    seen.add(f.name);
    lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    lines.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = s.labels && Object.keys(s.labels).length ? `{${Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
      lines.push(`${f.name}${labels} ${formatValue(s.value)}`);
    }
  }
  return lines.join('\n') + '\n';
}

export class MetricsRegistry {
  private readonly sources: MetricSource[] = [];

  addSource(source: MetricSource): void {
    this.sources.push(source);
  }

  async collect(): Promise<MetricFamily[]> {
    const all: MetricFamily[] = [];
    for (const source of this.sources) all.push(...(await source()));
    return all;
  }

  async render(): Promise<string> {
    return renderPrometheus(await this.collect());
  }
}
