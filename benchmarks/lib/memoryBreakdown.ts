/**
 * Where a process's memory goes, for the idle-connection benchmarks (client-heap, connections):
 *
 * - heapClasses: a V8 heap snapshot summarised as count and self size per class (constructor
 *   name, or the node type for strings, numbers, code...), so two snapshots (without and with N
 *   idle clients) give the objects and bytes each client adds.
 * - residentByKind: the process's RSS from /proc/PID/smaps by kind of mapping. On Linux with
 *   glibc, `[heap]` is malloc's main arena (the addon's per-stream state and output buffers,
 *   Buffer backing stores), 256 KiB anonymous mappings are V8 heap pages, 64 MiB-aligned ones
 *   are malloc's other arenas; file-backed mappings are code.
 *
 * Both only read; neither changes the measured process.
 */
import fs from 'node:fs';

export interface ClassSize {
  count: number;
  bytes: number;
}

/** Count and self size per class of a heap snapshot file (the .heapsnapshot JSON V8 writes). */
export function heapClasses(file: string): Map<string, ClassSize> {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const out = new Map<string, ClassSize>();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    // objects and closures by name; strings, numbers, code, arrays... by node type
    const key = type === 'object' || type === 'closure' || type === 'native' ? `${type === 'object' ? '' : `${type} `}${snap.strings[nodes[i + iName]]}` : `(${type})`;
    const c = out.get(key);
    if (c) {
      c.count++;
      c.bytes += nodes[i + iSize];
    } else out.set(key, { count: 1, bytes: nodes[i + iSize] });
  }
  return out;
}

/** after - before per class, per client, largest first (classes that moved by ≥ minBytes in all). */
export function classDelta(before: Map<string, ClassSize>, after: Map<string, ClassSize>, clients: number, minBytes = 1024): Array<{ name: string; countPerClient: number; bytesPerClient: number; bytesEach: number }> {
  const rows = [];
  for (const [name, a] of after) {
    const b = before.get(name) ?? { count: 0, bytes: 0 };
    const bytes = a.bytes - b.bytes;
    if (Math.abs(bytes) < minBytes) continue;
    const count = a.count - b.count;
    rows.push({ name, countPerClient: count / clients, bytesPerClient: bytes / clients, bytesEach: count !== 0 ? bytes / count : 0 });
  }
  return rows.sort((x, y) => y.bytesPerClient - x.bytesPerClient);
}

/** Resident KiB of a process by kind of mapping (see the header). */
export function residentByKind(pid: number | 'self'): Record<string, number> {
  const out: Record<string, number> = {};
  let kind = '';
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      const kb = (parseInt(m[2], 16) - parseInt(m[1], 16)) / 1024;
      const name = m[3];
      if (name === '') kind = kb === 256 ? 'anonymous 256 KiB (V8 heap pages)' : kb >= 32 * 1024 ? 'anonymous ≥ 32 MiB (malloc arenas, V8 reservations)' : 'anonymous, other';
      else kind = name.startsWith('/') ? 'file-backed (code, data)' : name === '[heap]' ? '[heap] (malloc main arena)' : name;
      continue;
    }
    const r = /^Rss:\s+(\d+) kB/.exec(line);
    if (r) out[kind] = (out[kind] ?? 0) + Number(r[1]);
  }
  return out;
}
