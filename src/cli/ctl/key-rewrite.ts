/**
 * `kvstore ctl [--admin HOST:PORT] key-rewrite ...` (registered by ./commands/key-rewrite.ts):
 *   key-rewrite add PATTERN        add PATTERN, or bump its generation: its keys are dropped
 *   key-rewrite remove PATTERN     remove PATTERN: the keys it hid are visible again
 *   key-rewrite list               the active patterns and their generations
 *   key-rewrite reclaim [--batch N] [--rate KEYS_PER_SEC] [--wait]
 *                                  unlink keys of dead generations on every shard (paced)
 *   key-rewrite reclaim-status     progress of the reclaim job
 * add/remove return once every worker serves the new rules. Exit code 0 on success, 1 when the
 * admin API refused the request (the error goes to stderr), 2 on usage errors.
 */
import type { KeyRewriteRule } from '../../topology/types';
import type { CtlCommand, CtlContext } from './registry';
import { parseCommand, table } from './registry';

export const KEY_REWRITE_USAGE = `usage: kvstore ctl [--admin HOST:PORT] key-rewrite add PATTERN
       kvstore ctl [--admin HOST:PORT] key-rewrite remove PATTERN
       kvstore ctl [--admin HOST:PORT] key-rewrite list
       kvstore ctl [--admin HOST:PORT] key-rewrite reclaim [--batch N] [--rate KEYS_PER_SEC] [--wait]
       kvstore ctl [--admin HOST:PORT] key-rewrite reclaim-status`;

interface ReclaimStatusBody {
  state: string;
  skipped?: string[];
  shards: { shard: string; scanned: number; unlinked: number; done: boolean; error?: string }[];
}

function formatReclaim(status: ReclaimStatusBody): string {
  const lines = [`reclaim: ${status.state}`];
  if (status.skipped?.length) lines.push(`  skipped (down): ${status.skipped.join(', ')}`);
  for (const s of status.shards ?? []) lines.push(`  ${s.shard}: scanned ${s.scanned}, unlinked ${s.unlinked}${s.done ? ', done' : ''}${s.error ? `, error: ${s.error}` : ''}`);
  return lines.join('\n');
}

async function run(ctx: CtlContext): Promise<number> {
  const [sub, ...rest] = ctx.args;
  const { values: flags, positionals: positional } = parseCommand(rest, { wait: { type: 'boolean' }, batch: { type: 'string' }, rate: { type: 'string' } });
  const print = (body: unknown, text: string) => ctx.out(ctx.json ? JSON.stringify(body, null, 2) : text);
  switch (sub) {
    case 'add': {
      if (positional.length !== 1) break;
      const body = await ctx.admin.post<{ generation: number; epoch: number }>('/key-rewrite', { pattern: positional[0] });
      print(body, `added ${positional[0]} generation ${body.generation} (epoch ${body.epoch}, on every worker)`);
      return 0;
    }
    case 'remove': {
      if (positional.length !== 1) break;
      const body = await ctx.admin.request<{ epoch: number }>('DELETE', '/key-rewrite', { pattern: positional[0] });
      print(body, `removed ${positional[0]} (epoch ${body.epoch}, on every worker)`);
      return 0;
    }
    case 'list': {
      if (positional.length !== 0) break;
      const body = await ctx.admin.get<{ rules: KeyRewriteRule[] }>('/key-rewrite');
      print(body, body.rules.length ? table(['PATTERN', 'GENERATION'], body.rules.map((r) => [r.pattern, String(r.generation)])) : 'no key-rewrite patterns');
      return 0;
    }
    case 'reclaim': {
      if (positional.length !== 0) break;
      const options: Record<string, number> = {};
      if (typeof flags.batch === 'string') options.batchKeys = Number(flags.batch);
      if (typeof flags.rate === 'string') options.keysPerSecond = Number(flags.rate);
      if (Object.values(options).some((v) => !Number.isFinite(v) || v < 0)) break;
      let status = await ctx.admin.post<ReclaimStatusBody>('/key-rewrite/reclaim', options);
      if (flags.wait) {
        while (status.state === 'running') {
          await new Promise((r) => setTimeout(r, 200));
          status = await ctx.admin.get<ReclaimStatusBody>('/key-rewrite/reclaim');
        }
      }
      print(status, formatReclaim(status));
      return status.state === 'failed' ? 1 : 0;
    }
    case 'reclaim-status': {
      const status = await ctx.admin.get<ReclaimStatusBody>('/key-rewrite/reclaim');
      print(status, formatReclaim(status));
      return 0;
    }
  }
  ctx.err(KEY_REWRITE_USAGE);
  return 2;
}

export const keyRewriteCtlCommand: CtlCommand = {
  name: 'key-rewrite',
  summary: 'drop a family of keys by glob pattern (add|remove PATTERN, list, reclaim)',
  usage: 'add|remove PATTERN | list | reclaim [--wait]',
  run,
};
