/**
 * `kvstore ctl` subcommands. Each lives in its own file under ./commands/ and registers itself
 * with `registerCtlCommand`; every file there is loaded at start, so adding a subcommand never
 * touches a shared file. A command gets a context with the admin API client and the global
 * flags, and returns the process exit code. It parses its own arguments with `parseCommand`
 * (../args.ts, util.parseArgs); a UsageError it throws exits 2 with the command's usage.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AdminClient } from './client';

export interface CtlContext {
  admin: AdminClient;
  /** `--json`: print the API's JSON instead of a table. */
  json: boolean;
  /** Arguments after the subcommand name, global flags removed. */
  args: string[];
  out: (text: string) => void;
  err: (text: string) => void;
}

export interface CtlCommand {
  name: string;
  /** One line for `kvstore ctl help`. */
  summary: string;
  /** Arguments, e.g. "--to SHARD --slots FIRST-LAST". */
  usage?: string;
  run(ctx: CtlContext): Promise<number>;
}

const commands = new Map<string, CtlCommand>();

export function registerCtlCommand(command: CtlCommand): void {
  commands.set(command.name, command);
}

export function getCtlCommand(name: string): CtlCommand | undefined {
  loadCommandFiles();
  return commands.get(name);
}

export function listCtlCommands(): CtlCommand[] {
  loadCommandFiles();
  return [...commands.values()].sort((a, b) => a.name.localeCompare(b.name));
}

let loaded = false;
function loadCommandFiles(): void {
  if (loaded) return;
  loaded = true;
  const dir = path.join(__dirname, 'commands');
  for (const file of fs.readdirSync(dir).sort()) {
    if (file.endsWith('.js') && !file.endsWith('.test.js')) require(path.join(dir, file));
  }
}

export { parseCommand, UsageError } from '../args';

/** A fixed-width text table. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : (c ?? '').padEnd(widths[i]))).join('  ');
  return [line(headers), ...rows.map(line)].join('\n');
}
