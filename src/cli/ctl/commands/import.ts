/**
 * `kvstore ctl import --from HOST:PORT [...] [--wait]`, `ctl import --cutover`, `ctl import --cancel`:
 * the online import of a redis-server (src/import/).
 */
import { followImport, importLine } from '../../../import/cliProgress';
import type { ImportInfo, ImportRequest, OnExisting } from '../../../import/types';
import { parseFlags, registerCtlCommand } from '../registry';

const USAGE =
  '--from HOST:PORT [--password P] [--user U] [--match PATTERN] [--strip-prefix PREFIX] [--rate KEYS_PER_SEC] ' +
  '[--on-existing skip|replace|fail] [--batch N] [--big-key-bytes N] [--wait]  |  --cutover  |  --cancel';
const VALUE_FLAGS = ['from', 'password', 'user', 'match', 'strip-prefix', 'rate', 'on-existing', 'batch', 'big-key-bytes'];
const BOOLEAN_FLAGS = ['wait', 'cutover', 'cancel'];

function integer(value: string | true | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (value === true || !/^\d+$/.test(value)) throw new Error(`--${name} needs a whole number`);
  return Number(value);
}

registerCtlCommand({
  name: 'import',
  summary: 'copy a running redis-server into Kvstore, then follow its changes until --cutover (see import-status)',
  usage: USAGE,
  async run(ctx) {
    const { flags, positional } = parseFlags(ctx.args, BOOLEAN_FLAGS);
    const unknown = Object.keys(flags).filter((f) => !VALUE_FLAGS.includes(f) && !BOOLEAN_FLAGS.includes(f));
    const valueMissing = VALUE_FLAGS.filter((f) => flags[f] === true);
    if (positional.length || unknown.length || valueMissing.length) {
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
        password: flags.password as string | undefined,
        user: flags.user as string | undefined,
        match: flags.match as string | undefined,
        stripPrefix: flags['strip-prefix'] as string | undefined,
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
