/**
 * How `kvstore ctl` shows a resharding job: a live progress bar on a terminal (redrawn in place),
 * plain lines otherwise (one when something changed, at most every `lineEveryMs`). `--wait`
 * polls GET /jobs/:id until the job is done (exit 0) or failed (exit 1).
 */
import type { CtlContext } from '../cli/ctl/registry';
import type { JobInfo } from './JobManager';

export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

/** Fraction done: slots handed over, refined by how much of the sources' keyspace was scanned. */
export function jobFraction(job: JobInfo): number {
  if (job.state === 'done') return 1;
  if (job.slotsTotal === 0) return 0;
  const slots = job.slotsDone / job.slotsTotal;
  const scan = job.keysToScan > 0 ? Math.min(1, job.keysScanned / job.keysToScan) : slots;
  return Math.max(slots, Math.min(0.99, scan));
}

export function progressLine(job: JobInfo): string {
  return (
    `job ${job.id} ${job.kind}${job.noCopy ? ' (no copy)' : ''}: ${job.state}  slots ${job.slotsDone}/${job.slotsTotal}  ` +
    `keys moved ${job.keysMoved}  ${job.keysPerSecond} keys/s  ETA ${job.state === 'running' ? formatEta(job.etaSeconds) : '00:00'}` +
    (job.error ? `  error: ${job.error}` : '')
  );
}

export function progressBar(job: JobInfo, width = 30): string {
  const filled = Math.round(jobFraction(job) * width);
  const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
  return (
    `[${bar}] ${String(Math.floor(jobFraction(job) * 100)).padStart(3)}%  slots ${job.slotsDone}/${job.slotsTotal}  ` +
    `keys ${job.keysMoved}  ${job.keysPerSecond} keys/s  ETA ${job.state === 'running' ? formatEta(job.etaSeconds) : '00:00'}`
  );
}

export interface FollowOptions {
  pollMs?: number;
  lineEveryMs?: number;
  tty?: boolean;
  write?: (text: string) => void;
}

/** Show `job` until it ends; returns the exit code (0 done, 1 failed). */
export async function followJob(ctx: CtlContext, job: JobInfo, options: FollowOptions = {}): Promise<number> {
  const tty = options.tty ?? !!process.stdout.isTTY;
  const write = options.write ?? ((t: string) => process.stdout.write(t));
  const pollMs = options.pollMs ?? 250;
  const lineEveryMs = options.lineEveryMs ?? 1000;
  let lastLine = '';
  let lastLineAt = 0;
  for (;;) {
    if (tty) write(`\r\x1b[2K${progressBar(job)}`);
    else {
      const line = progressLine(job);
      const now = Date.now();
      if (job.state !== 'running' || (line !== lastLine && now - lastLineAt >= lineEveryMs)) {
        ctx.out(line);
        lastLine = line;
        lastLineAt = now;
      }
    }
    if (job.state !== 'running') break;
    await new Promise((r) => setTimeout(r, pollMs));
    job = await ctx.admin.get<JobInfo>(`/jobs/${job.id}`);
  }
  if (tty) {
    write('\n');
    ctx.out(progressLine(job));
  }
  if (job.state === 'failed') {
    ctx.err(`job ${job.id} failed: ${job.error ?? 'unknown error'}`);
    return 1;
  }
  return 0;
}

/** After starting a job: follow it with --wait, else print how to follow it. */
export async function reportStartedJob(ctx: CtlContext, job: JobInfo, wait: boolean): Promise<number> {
  if (ctx.json && !wait) {
    ctx.out(JSON.stringify(job, null, 2));
    return 0;
  }
  if (!wait) {
    ctx.out(`started job ${job.id} (${job.kind}${job.noCopy ? ', no copy' : ''}); follow it with: kvstore ctl jobs`);
    return 0;
  }
  const code = await followJob(ctx, job, ctx.json ? { tty: false } : {});
  if (ctx.json) ctx.out(JSON.stringify(await ctx.admin.get<JobInfo>(`/jobs/${job.id}`), null, 2));
  return code;
}
