/**
 * A grouped bar chart of requests/s as a self-contained SVG (no dependency): one panel per
 * pipeline depth (their scales differ ~10x), one group per workload, one bar per system.
 */
import type { Cell } from './results';
import type { SystemInfo } from './report';

const COLORS = ['#7f7f7f', '#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e'];

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A "nice" axis maximum (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten), at least `value`. */
export function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** 1234 -> "1.2k", 25000 -> "25k", 431965 -> "432k", 1500000 -> "1.5M". */
/** How many grid intervals split [0, max] into round steps (1, 2, 2.5 or 5 times a power of ten). */
export function gridDivisions(max: number): number {
  const round = (x: number) => {
    const m = x / 10 ** Math.floor(Math.log10(x));
    return [1, 2, 2.5, 5, 10].some((r) => Math.abs(m - r) < 1e-9);
  };
  return [4, 5, 3, 2].find((d) => round(max / d)) ?? 4;
}

export function shortNumber(value: number): string {
  const trim = (s: string) => s.replace(/\.0$/, '');
  if (value >= 1e6) return `${trim((value / 1e6).toFixed(value >= 1e7 ? 0 : 1))}M`;
  if (value >= 1e3) return `${trim((value / 1e3).toFixed(value >= 1e5 ? 0 : 1))}k`;
  return String(Math.round(value));
}

export function barChartSvg(cells: Cell[], systems: SystemInfo[], workloads: Array<{ id: string; label: string }>, pipelines: number[], title: string): string {
  const width = 960;
  const panelHeight = 300;
  const top = 60;
  const left = 70;
  const right = 20;
  const panelGap = 70;
  const legendHeight = 30;
  const height = top + pipelines.length * (panelHeight + panelGap) + legendHeight;
  const shown = systems.filter((s) => cells.some((c) => c.system === s.id));
  const color = new Map(shown.map((s, i) => [s.id, COLORS[i % COLORS.length]]));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  pipelines.forEach((pipeline, p) => {
    const y0 = top + p * (panelHeight + panelGap);
    const plotHeight = panelHeight - 30;
    const baseY = y0 + plotHeight;
    const plotWidth = width - left - right;
    const panelCells = cells.filter((c) => c.pipeline === pipeline && c.rps !== null);
    const max = niceMax(Math.max(0, ...panelCells.map((c) => c.rps ?? 0)));
    out.push(`<text x="${left}" y="${y0 - 10}" font-size="13" font-weight="bold">requests/s, ${pipeline === 1 ? 'no pipelining (-P 1)' : `pipeline -P ${pipeline}`}, 50 clients</text>`);
    const divisions = gridDivisions(max);
    for (let i = 0; i <= divisions; i++) {
      const v = (max * i) / divisions;
      const y = baseY - (plotHeight * i) / divisions;
      out.push(`<line x1="${left}" y1="${y}" x2="${width - right}" y2="${y}" stroke="#dddddd"/>`);
      out.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end" fill="#555555">${shortNumber(v)}</text>`);
    }
    const groupWidth = plotWidth / workloads.length;
    const barWidth = Math.min(40, (groupWidth * 0.8) / Math.max(1, shown.length));
    workloads.forEach((w, g) => {
      const groupX = left + g * groupWidth + (groupWidth - barWidth * shown.length) / 2;
      shown.forEach((s, b) => {
        const cell = panelCells.find((c) => c.workload === w.id && c.system === s.id);
        if (!cell || cell.rps === null) return;
        const h = (plotHeight * cell.rps) / max;
        const x = groupX + b * barWidth;
        out.push(`<rect x="${x.toFixed(1)}" y="${(baseY - h).toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${color.get(s.id)}"><title>${escapeXml(`${s.label}, ${w.label}, -P ${pipeline}: ${Math.round(cell.rps)} requests/s`)}</title></rect>`);
        out.push(`<text x="${(x + (barWidth - 2) / 2).toFixed(1)}" y="${(baseY - h - 4).toFixed(1)}" text-anchor="middle" font-size="10" fill="#333333">${shortNumber(cell.rps)}</text>`);
      });
      out.push(`<text x="${(left + g * groupWidth + groupWidth / 2).toFixed(1)}" y="${baseY + 18}" text-anchor="middle">${escapeXml(w.label)}</text>`);
    });
    out.push(`<line x1="${left}" y1="${baseY}" x2="${width - right}" y2="${baseY}" stroke="#333333"/>`);
  });
  const legendY = height - legendHeight + 10;
  let x = left;
  for (const s of shown) {
    out.push(`<rect x="${x}" y="${legendY - 10}" width="12" height="12" fill="${color.get(s.id)}"/>`);
    out.push(`<text x="${x + 16}" y="${legendY}">${escapeXml(s.label)}</text>`);
    x += 24 + s.label.length * 7;
  }
  out.push('</svg>', '');
  return out.join('\n');
}
