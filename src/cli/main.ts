/**
 * The `kvstore` command line:
 *   kvstore start -c FILE          foreground; SIGTERM drains and exits 0
 *   kvstore check-config FILE
 *   kvstore version
 *   kvstore ctl [--admin HOST:PORT | --config FILE] <subcommand> [--json] ...
 * Exit codes: 0 ok, 1 failure (bad config, API error), 2 usage error.
 * Arguments are parsed with node's util.parseArgs (./args.ts), the verb's and ctl's alike.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfigFile, resolveWorkerCount } from '../config/load';
import { parseAddress } from '../config/address';
import type { KvstoreConfig } from '../config/types';
import { ConfigError, KvstoreError } from '../errors';
import { portFilePath, readPortFile } from '../supervisor/portFile';
import { extractOptions, parseCommand, UsageError } from './args';
import { AdminClient } from './ctl/client';
import { getCtlCommand, listCtlCommands } from './ctl/registry';

const USAGE = `usage:
  kvstore start -c FILE                 run the proxy in the foreground (SIGTERM drains, exits 0)
  kvstore check-config FILE             validate a config file and print every problem
  kvstore version                       print the version
  kvstore ctl [--admin HOST:PORT | --config FILE] COMMAND [--json] [args]
                                        talk to a running proxy's admin API (default 127.0.0.1:7500)
  kvstore ctl help                      list the ctl commands`;

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const stdio: CliIo = {
  out: (t) => process.stdout.write(t + '\n'),
  err: (t) => process.stderr.write(t + '\n'),
};

export function packageVersion(): string {
  // dist/src/cli/main.js → package root is three levels up (repo and tarball alike)
  for (const candidate of [path.join(__dirname, '..', '..', '..', 'package.json'), path.join(__dirname, '..', '..', 'package.json')]) {
    if (fs.existsSync(candidate)) return JSON.parse(fs.readFileSync(candidate, 'utf8')).version;
  }
  return 'unknown';
}

function nativeAddonStatus(): string {
  const root = path.join(__dirname, '..', '..', '..');
  const addon = path.join(root, 'build', 'Release', 'kvstore_native.node');
  if (!fs.existsSync(addon)) return 'native addon: not built (TypeScript fallback)';
  try {
    require(addon);
    return 'native addon: loaded';
  } catch (err) {
    return `native addon: cannot load (${(err as Error).message.split('\n')[0]}); TypeScript fallback`;
  }
}

export async function main(argv: string[], io: CliIo = stdio): Promise<number> {
  const [verb, ...rest] = argv;
  try {
    switch (verb) {
      case 'version':
      case '--version':
      case '-v':
        io.out(`kvstore ${packageVersion()} (node ${process.version}; ${nativeAddonStatus()})`);
        return 0;
      case 'check-config':
        return checkConfig(rest, io);
      case 'start':
        return await start(rest, io);
      case 'ctl':
        return await ctl(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return verb === undefined ? 2 : 0;
      default:
        io.err(`kvstore: unknown command "${verb}"\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`kvstore: ${err.message}\n${USAGE}`);
      return 2;
    }
    if (err instanceof KvstoreError) {
      io.err(`kvstore: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

/** `-c FILE`, `--config FILE` or a lone FILE (start and check-config take all three). */
function configFileArg(args: string[]): string | undefined {
  const { values, positionals } = parseCommand(args, { config: { type: 'string', short: 'c' } });
  if (positionals.length > (values.config === undefined ? 1 : 0)) throw new UsageError(`unexpected argument ${positionals[positionals.length - 1]}`);
  return values.config ?? positionals[0];
}

function checkConfig(args: string[], io: CliIo): number {
  const file = configFileArg(args);
  if (!file) {
    io.err('usage: kvstore check-config FILE');
    return 2;
  }
  const config = loadConfigFile(file);
  const workers = config.workers === 'auto' ? `auto (${resolveWorkerCount(config)} here)` : String(config.workers);
  io.out(
    `${file}: OK — ${config.shards.length} shard(s), mode ${config.mode}, hash ${config.hash}, workers ${workers}, ` +
      `listen ${config.listen.host}:${config.listen.port}, admin ${config.admin.host}:${config.admin.port}, stateDir ${config.stateDir}`,
  );
  return 0;
}

async function start(args: string[], io: CliIo): Promise<number> {
  const file = configFileArg(args);
  if (!file) {
    io.err('usage: kvstore start -c FILE');
    return 2;
  }
  loadConfigFile(file); // fail fast, with the config's own messages, before any process starts
  const { runPrimary } = await import('../supervisor/signals');
  await runPrimary(path.resolve(file));
  return new Promise<number>(() => undefined); // runs until a signal ends the process
}

/** The admin API of the kvstore running with `config`; admin.port 0 (any free port): the one it wrote to its port file. */
function adminAddressOf(config: KvstoreConfig): string {
  if (config.admin.port !== 0) return `${config.admin.host}:${config.admin.port}`;
  const ports = readPortFile(config.stateDir);
  if (!ports) throw new ConfigError(`admin.port is 0 (any free port) and ${portFilePath(config.stateDir)} does not exist: is kvstore running with this config? Pass --admin HOST:PORT`);
  if (!processAlive(ports.pid)) throw new ConfigError(`admin.port is 0 (any free port) and ${portFilePath(config.stateDir)} was left by kvstore pid ${ports.pid}, which is not running`);
  return `${ports.admin.host}:${ports.admin.port}`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, another user's
  }
}

async function ctl(args: string[], io: CliIo): Promise<number> {
  // --admin, --config and --json may come before or after the subcommand; the rest is its own
  const { order, rest } = extractOptions(args, { admin: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' } });
  let adminAddress = process.env.KVSTORE_ADMIN ?? '127.0.0.1:7500';
  let json = false;
  for (const { name, value } of order) {
    if (name === 'json') json = true;
    else if (name === 'admin') adminAddress = String(value);
    else if (name === 'config') adminAddress = adminAddressOf(loadConfigFile(String(value))); // the last of --admin/--config wins
  }
  const [name, ...commandArgs] = rest;
  if (!name || name === 'help') {
    io.out('kvstore ctl [--admin HOST:PORT | --config FILE] COMMAND [--json] [args]\n\ncommands:');
    for (const c of listCtlCommands()) io.out(`  ${(c.name + ' ' + (c.usage ?? '')).padEnd(44)} ${c.summary}`);
    return name ? 0 : 2;
  }
  const command = getCtlCommand(name);
  if (!command) {
    io.err(`kvstore ctl: unknown command "${name}"; known: ${listCtlCommands().map((c) => c.name).join(', ')}`);
    return 2;
  }
  let host: string;
  let port: number;
  try {
    ({ host, port } = parseAddress(adminAddress));
  } catch (err) {
    io.err(`kvstore ctl: --admin ${adminAddress}: ${(err as Error).message}`);
    return 2;
  }
  try {
    return await command.run({ admin: new AdminClient(host, port), json, args: commandArgs, out: io.out, err: io.err });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`kvstore ctl ${name}: ${err.message}\nusage: kvstore ctl [--admin HOST:PORT] ${name} ${command.usage ?? ''}`.trimEnd());
    return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`kvstore: ${err?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
