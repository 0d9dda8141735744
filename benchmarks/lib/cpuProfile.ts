/**
 * Summarises V8 CPU profiles (`node --cpu-prof` .cpuprofile files): self time per function and
 * per source file, to see where a Kvstore worker spends its time under load.
 */
export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  name: string;
  micros: number;
  share: number;
}

function shortUrl(url: string): string {
  if (!url) return '';
  const stripped = url.replace(/^file:\/\//, '');
  const at = stripped.search(/\/(dist|src|node_modules)\//);
  return at >= 0 ? stripped.slice(at + 1) : stripped;
}

/**
 * Self time by function (name + file:line) and by file, largest first, as shares of the busy
 * time (everything but "(idle)", which is reported apart).
 */
export function summarizeProfile(profile: CpuProfile): { totalMicros: number; idleMicros: number; functions: SelfTime[]; files: SelfTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMicros = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let total = 0;
  let idle = 0;
  // timeDeltas[i] is the time before sample i; attribute it to sample i's node
  for (let i = 0; i < samples.length; i++) {
    const d = Math.max(0, deltas[i] ?? 0);
    selfMicros.set(samples[i], (selfMicros.get(samples[i]) ?? 0) + d);
    total += d;
  }
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [id, micros] of selfMicros) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)' && !url) {
      idle += micros;
      continue;
    }
    const file = shortUrl(url);
    const name = `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + micros);
    const fileKey = file || functionName || '(unknown)';
    files.set(fileKey, (files.get(fileKey) ?? 0) + micros);
  }
  const busy = total - idle;
  const sorted = (m: Map<string, number>): SelfTime[] =>
    [...m.entries()].map(([name, micros]) => ({ name, micros, share: busy ? micros / busy : 0 })).sort((a, b) => b.micros - a.micros);
  return { totalMicros: busy, idleMicros: idle, functions: sorted(functions), files: sorted(files) };
}

/**
 * What the optional per-request work costs (issue 16: histograms ~1% at most, hot-key sampling
 * off the hot path): self time of its functions as a share of the busy time. The data path's
 * own lines that call them (a compare, a countdown) are not counted: they are inlined into it.
 */
export const FEATURE_GROUPS: Record<string, RegExp> = {
  'latency histograms': /^(record|bucketOf|turnMicros|snapshot|bucketHigh|countAtOrBelow) .*(LatencyHistograms|FlushScheduler)\.js/,
  'hot-key sampling': /(HotKeys\.js|^sampleHotKey )/,
  SLOWLOG: /(SlowLog\.js|RequestLog\.js|requestArgs\.js|WorkerObservability\.js|^beforeRead )/,
  'big keys': /BigKeys\.js|^big(Request|Reply) /,
  'ACL and rate limits': /(src\/security\/|TokenBucket\.js)/,
};

export function featureShares(summary: { functions: SelfTime[] }): { group: string; share: number; micros: number }[] {
  return Object.entries(FEATURE_GROUPS).map(([group, re]) => {
    const hits = summary.functions.filter((f) => re.test(f.name));
    return { group, share: hits.reduce((a, f) => a + f.share, 0), micros: hits.reduce((a, f) => a + f.micros, 0) };
  });
}
