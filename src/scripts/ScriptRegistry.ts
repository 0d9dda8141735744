/**
 * What clients loaded through Kvstore (SCRIPT LOAD bodies, the FUNCTION libraries), kept in the
 * topology snapshot (`snapshot.scripts`: persisted with it, in the state dir or in etcd alike),
 * and given to every master a topology change starts routing to — a shard added by resharding,
 * a replica promoted by failover, a cache-mode shard rejoining after its flush — BEFORE the
 * change is pushed to the workers, so EVALSHA/FCALL never meet a shard without them.
 *
 * Who tells it: workers report each successful load/flush over IPC (FanOut.ts → ScriptChange).
 * Lua scripts cannot be listed from a redis-server, so their bodies are recorded; functions are
 * re-read with FUNCTION DUMP from a serving master after each change, so the dump is exactly
 * what the shards hold.
 */
import type { RespClient } from '../resp';
import type { Logger } from '../log';
import type { ScriptChange } from '../supervisor/messages';
import type { ScriptRegistryState, ShardInfo, TopologySnapshot } from '../topology/types';
import { KvstoreError } from '../errors';

export type Connect = (address: string) => Promise<RespClient>;
export type UpdateTopology = (mutate: (draft: TopologySnapshot) => void) => Promise<TopologySnapshot>;

export class ScriptLoadError extends KvstoreError {
  constructor(message: string) {
    super('SCRIPT_LOAD_FAILED', message);
  }
}

const EMPTY: ScriptRegistryState = { lua: [], functions: '' };

export class ScriptRegistry {
  /** Changes are applied one at a time, in the order they were reported. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly topology: () => TopologySnapshot,
    private readonly update: UpdateTopology,
    private readonly connect: Connect,
    private readonly log: Logger,
  ) {}

  get state(): ScriptRegistryState {
    return this.topology().scripts ?? EMPTY;
  }

  /** A worker reported a change; resolves once it is recorded (for tests). */
  onChange(change: ScriptChange): Promise<void> {
    const run = () => this.apply(change).catch((err) => this.log.error({ err, change: change.type }, 'could not record a script change'));
    this.queue = this.queue.then(run, run);
    return this.queue;
  }

  /** Resolves when every reported change is recorded. */
  idle(): Promise<void> {
    return this.queue;
  }

  private async apply(change: ScriptChange): Promise<void> {
    if (change.type === 'script') {
      if (this.state.lua.includes(change.body)) return;
      await this.update((d) => {
        const s = d.scripts ?? { ...EMPTY };
        d.scripts = { ...s, lua: [...s.lua.filter((b) => b !== change.body), change.body] };
      });
    } else if (change.type === 'script-flush') {
      if (this.state.lua.length === 0) return;
      await this.update((d) => {
        d.scripts = { ...(d.scripts ?? EMPTY), lua: [] };
      });
    } else {
      const functions = await this.dumpFunctions();
      if (functions === this.state.functions) return;
      await this.update((d) => {
        d.scripts = { ...(d.scripts ?? EMPTY), functions };
      });
    }
  }

  /** FUNCTION DUMP of the first serving master ('' when it has no libraries). */
  private async dumpFunctions(): Promise<string> {
    const shard = this.topology().shards.find((s) => s.state !== 'down');
    if (!shard) throw new ScriptLoadError('no serving shard to read FUNCTION DUMP from');
    const client = await this.connect(shard.master);
    try {
      const dump = await client.command(['FUNCTION', 'DUMP']);
      if (dump === null) return '';
      if (!Buffer.isBuffer(dump)) throw new ScriptLoadError(`FUNCTION DUMP on ${shard.master} did not return a payload`);
      // An empty library set dumps to a header only; restoring it is harmless but pointless.
      return dump.toString('base64');
    } finally {
      client.close();
    }
  }

  /**
   * The pre-commit hook: load everything into each master that `next` serves from and `current`
   * did not (new shard, new master, down → up). Throws (and so aborts the change) when a load
   * fails: routing to a shard without the scripts would give clients NOSCRIPT.
   */
  async prepare(current: TopologySnapshot, next: TopologySnapshot): Promise<void> {
    const state = next.scripts ?? current.scripts ?? EMPTY;
    if (state.lua.length === 0 && state.functions === '') return;
    const targets = newlyServing(current, next);
    await Promise.all(targets.map((s) => this.loadInto(s.master, state, s.name)));
  }

  /** Load every recorded script and the functions into one master (idempotent). */
  async loadInto(address: string, state: ScriptRegistryState = this.state, shard = address): Promise<void> {
    const client = await this.connect(address).catch((err: Error) => {
      throw new ScriptLoadError(`cannot load scripts into shard ${shard} (${address}): ${err.message}`);
    });
    try {
      const commands: Buffer[][] = state.lua.map((b) => [Buffer.from('SCRIPT'), Buffer.from('LOAD'), Buffer.from(b, 'base64')]);
      if (state.functions !== '') commands.push([Buffer.from('FUNCTION'), Buffer.from('RESTORE'), Buffer.from(state.functions, 'base64'), Buffer.from('REPLACE')]);
      const results = await client.pipeline(commands);
      const failed = results.find((r) => r instanceof Error);
      if (failed) throw new ScriptLoadError(`loading scripts into shard ${shard} (${address}) failed: ${(failed as Error).message}`);
      this.log.info({ shard, address, scripts: state.lua.length, functions: state.functions !== '' }, 'scripts and functions loaded into a shard before it serves');
    } finally {
      client.close();
    }
  }
}

/** Masters `next` routes to that `current` did not (by name and address, not down). */
export function newlyServing(current: TopologySnapshot, next: TopologySnapshot): ShardInfo[] {
  const serving = new Set(current.shards.filter((s) => s.state !== 'down').map((s) => `${s.name}@${s.master}`));
  return next.shards.filter((s) => s.state !== 'down' && !serving.has(`${s.name}@${s.master}`));
}
