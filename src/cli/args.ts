/**
 * Argument parsing for the `kvstore` command, all through node's `util.parseArgs`:
 * `parseCommand` for a verb's own options (strict: an unknown option is a usage error, exit 2),
 * `extractOptions` for options that may appear anywhere among another command's arguments
 * (`kvstore ctl`'s --admin, --config and --json go before or after the subcommand; everything
 * else is passed on untouched, in order).
 */
import { parseArgs, ParseArgsConfig } from 'node:util';
import { KvstoreError } from '../errors';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Bad command-line usage: the CLI prints the message and the usage, and exits 2. */
export class UsageError extends KvstoreError {
  constructor(message: string) {
    super('E_USAGE', message);
  }
}

/** Parse a verb's arguments: its options (strict) and positionals. */
export function parseCommand<const O extends OptionsConfig>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * Take `options` out of `args` wherever they are (`--name value`, `--name=value`); the rest is
 * returned in order, for a subcommand to parse. `order` lists the options found, in order (the
 * last of two exclusive options wins).
 */
export function extractOptions(args: string[], options: OptionsConfig): { order: Array<{ name: string; value: string | boolean }>; rest: string[] } {
  const { tokens } = parseArgs({ args, options, allowPositionals: true, strict: false, tokens: true });
  const taken = new Set<number>();
  const order: Array<{ name: string; value: string | boolean }> = [];
  for (const token of tokens) {
    if (token.kind === 'option-terminator') break; // everything after `--` is the subcommand's
    if (token.kind !== 'option' || !(token.name in options)) continue;
    const type = options[token.name].type;
    if (type === 'string' && token.value === undefined) throw new UsageError(`option ${token.rawName} needs a value`);
    taken.add(token.index);
    if (type === 'string' && !token.inlineValue) taken.add(token.index + 1);
    order.push({ name: token.name, value: token.value ?? true });
  }
  return { order, rest: args.filter((_, i) => !taken.has(i)) };
}
