/**
 * `kvstore ctl` subcommands. Each lives in its own file under ./commands/ and registers itself
 * with `registerCtlCommand`; every file there is loaded at start, so adding a subcommand never
 * touches a shared file. A command gets a context with the admin API client and the global
 * flags, and returns the process exit code.
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

/** Small flag parser for subcommands: `--name value`, `--name=value`, boolean `--flag`. */
export function parseFlags(args: string[], booleans: string[] = []): { flags: Record<string, string | true>; positional: string[] } {
  const flags: Record<string, string | true> = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags[a.slice(2, eq)] = a.slice(eq + 1);
      else if (booleans.includes(a.slice(2)) || i + 1 >= args.length || args[i + 1].startsWith('--')) flags[a.slice(2)] = true;
      else flags[a.slice(2)] = args[++i];
    } else positional.push(a);
  }
  return { flags, positional };
}

/** A fixed-width text table. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : (c ?? '').padEnd(widths[i]))).join('  ');
  return [line(headers), ...rows.map(line)].join('\n');
}
