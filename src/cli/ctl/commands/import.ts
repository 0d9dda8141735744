/**
 * `kvstore ctl import --from HOST:PORT [...] [--wait]`, `ctl import --cutover`, `ctl import --cancel`:
 * the online import of a redis-server (src/import/).
 */
import { followImport, importLine } from '../../../import/cliProgress';
import type { ImportInfo, ImportRequest, OnExisting } from '../../../import/types';
import { parseCommand, registerCtlCommand } from '../registry';

const USAGE =
  '--from HOST:PORT [--password P] [--user U] [--match PATTERN] [--strip-prefix PREFIX] [--rate KEYS_PER_SEC] ' +
  '[--on-existing skip|replace|fail] [--batch N] [--big-key-bytes N] [--wait]  |  --cutover  |  --cancel';
const OPTIONS = {
  from: { type: 'string' },
  password: { type: 'string' },
  user: { type: 'string' },
  match: { type: 'string' },
  'strip-prefix': { type: 'string' },
  rate: { type: 'string' },
  'on-existing': { type: 'string' },
  batch: { type: 'string' },
  'big-key-bytes': { type: 'string' },
  wait: { type: 'boolean' },
  cutover: { type: 'boolean' },
  cancel: { type: 'boolean' },
} as const;

function integer(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`--${name} needs a whole number`);
  return Number(value);
}

registerCtlCommand({
  name: 'import',
  summary: 'copy a running redis-server into Kvstore, then follow its changes until --cutover (see import-status)',
  usage: USAGE,
  async run(ctx) {
    const { values: flags, positionals } = parseCommand(ctx.args, OPTIONS);
    if (positionals.length) {
      ctx.err(`usage: kvstore ctl import ${USAGE}`);
      return 2;
    }
    if (flags.cancel) {
      const info = await ctx.admin.post<ImportInfo>('/import/cancel');
      ctx.out(ctx.json ? JSON.stringify(info, null, 2) : importLine(info));
      return 0;
    }
    if (flags.cutover) {
      const info = await ctx.admin.post<ImportInfo>('/import/cutover');
      if (!ctx.json) ctx.out(`cutover requested: ${info.pending} key(s) pending, lag ${info.lagMs} ms; waiting until nothing is pending`);
      const code = await followImport(ctx, info, 'finished', ctx.json ? { tty: false } : {});
      if (ctx.json) ctx.out(JSON.stringify((await ctx.admin.get<{ import: ImportInfo }>('/import')).import, null, 2));
      return code;
    }
    if (typeof flags.from !== 'string') {
      ctx.err(`usage: kvstore ctl import ${USAGE}`);
      return 2;
    }
    let request: ImportRequest;
    try {
      request = {
        from: flags.from,
        password: flags.password,
        user: flags.user,
        match: flags.match,
        stripPrefix: flags['strip-prefix'],
        rate: integer(flags.rate, 'rate'),
        onExisting: flags['on-existing'] as OnExisting | undefined,
        batchKeys: integer(flags.batch, 'batch'),
        bigKeyBytes: integer(flags['big-key-bytes'], 'big-key-bytes'),
      };
    } catch (err) {
      ctx.err((err as Error).message);
      return 2;
    }
    const info = await ctx.admin.post<ImportInfo>('/import', request);
    if (!flags.wait) {
      ctx.out(ctx.json ? JSON.stringify(info, null, 2) : `started import ${info.id} from ${info.from}; follow it with: kvstore ctl import-status (ctl import --cutover to finish)`);
      return 0;
    }
    const code = await followImport(ctx, info, 'caught-up', ctx.json ? { tty: false } : {});
    if (ctx.json) ctx.out(JSON.stringify((await ctx.admin.get<{ import: ImportInfo }>('/import')).import, null, 2));
    return code;
  },
});
