/**
 * How `kvstore ctl` shows an import: one status line, a table row for `ctl jobs`, and following
 * a job (--wait, --cutover) with a cli-progress bar on a terminal, plain lines otherwise.
 */
import { SingleBar } from 'cli-progress';
import type { CtlContext } from '../cli/ctl/registry';
import type { ImportInfo } from './types';

export function importLine(i: ImportInfo): string {
  return (
    `import ${i.id} from ${i.from}: ${i.state} (${i.phase})  scanned ${i.keysScanned}/${i.keysToScan}  copied ${i.keysCopied}` +
    (i.bigKeys ? ` (${i.bigKeys} in chunks)` : '') +
    (i.keysSkipped ? `  skipped ${i.keysSkipped}` : '') +
    `  live ${i.liveCopied} copied / ${i.liveDeleted} deleted  pending ${i.pending} (lag ${i.lagMs} ms)  ${i.keysPerSecond} keys/s` +
    (i.caughtUp ? '  caught up' : '') +
    (i.error ? `  error: ${i.error}` : '')
  );
}

/** A `ctl jobs` row: ID, KIND, TARGET, STATE, SLOTS, KEYS MOVED, KEYS/S, ETA, ELAPSED, ERROR. */
export function importJobRow(i: ImportInfo): string[] {
  return [
    `import ${i.id}`,
    `import (${i.phase})` + (i.resumed ? ` (resumed ${i.resumed}x)` : ''),
    i.from + (i.match !== '*' ? ` ${i.match}` : ''),
    i.state + (i.state === 'running' ? (i.caughtUp ? ', caught up' : `, pending ${i.pending}`) : ''),
    '-',
    String(i.keysCopied + i.liveCopied),
    String(i.keysPerSecond),
    '-',
    `${(i.elapsedMs / 1000).toFixed(1)}s`,
    i.error ?? '',
  ];
}

export type ImportGoal = 'caught-up' | 'finished';

function reached(i: ImportInfo, goal: ImportGoal): boolean {
  if (i.state !== 'running') return true;
  return goal === 'caught-up' && i.caughtUp;
}

export interface FollowImportOptions {
  pollMs?: number;
  tty?: boolean;
  lineEveryMs?: number;
}

/**
 * Poll GET /import until `goal` (caught-up: full pass done and nothing pending; finished: the job
 * ended). Exit code 0 when reached with the job running or done, 1 when it failed or was cancelled.
 */
export async function followImport(ctx: CtlContext, first: ImportInfo, goal: ImportGoal, options: FollowImportOptions = {}): Promise<number> {
  const tty = options.tty ?? !!process.stdout.isTTY;
  const pollMs = options.pollMs ?? 250;
  const lineEveryMs = options.lineEveryMs ?? 1000;
  let i = first;
  const bar = tty
    ? new SingleBar({
        format: '[{bar}] {percentage}% | {phase} | {value}/{total} scanned | copied {copied} | {speed} keys/s | pending {pending} (lag {lag} ms)',
        hideCursor: true,
        clearOnComplete: false,
      })
    : null;
  const payload = (x: ImportInfo) => ({ phase: x.phase, copied: x.keysCopied + x.liveCopied, speed: x.keysPerSecond, pending: x.pending, lag: x.lagMs });
  bar?.start(Math.max(1, i.keysToScan), Math.min(i.keysScanned, Math.max(1, i.keysToScan)), payload(i));
  let lastLineAt = 0;
  for (;;) {
    if (bar) {
      bar.setTotal(Math.max(1, i.keysToScan, i.keysScanned));
      bar.update(i.keysScanned, payload(i));
    } else if (Date.now() - lastLineAt >= lineEveryMs || reached(i, goal)) {
      ctx.out(importLine(i));
      lastLineAt = Date.now();
    }
    if (reached(i, goal)) break;
    await new Promise((r) => setTimeout(r, pollMs));
    const { import: next } = await ctx.admin.get<{ import: ImportInfo | null }>('/import');
    if (!next || next.id !== first.id) break;
    i = next;
  }
  bar?.stop();
  if (bar) ctx.out(importLine(i));
  if (i.state === 'failed' || i.state === 'cancelled') {
    ctx.err(`import ${i.id} ${i.state}${i.error ? `: ${i.error}` : ''}`);
    return 1;
  }
  return 0;
}
