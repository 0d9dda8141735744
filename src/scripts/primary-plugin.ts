/**
 * Scripts and functions cluster-wide, in the primary (loaded by src/supervisor/plugins.ts): the
 * registry records what workers report (ScriptRegistry.ts) and loads it into every master a
 * topology change starts routing to, before the change is pushed.
 */
import { connectControl } from '../failover/replication';
import { createLogger } from '../log';
import type { PrimaryContext } from '../supervisor/context';
import { registerPrimaryPlugin } from '../supervisor/plugins';
import { ScriptRegistry } from './ScriptRegistry';

const log = createLogger('scripts');
let registry: ScriptRegistry | undefined;

/** The running registry (tests), if the plugin started. */
export function scriptRegistry(): ScriptRegistry | undefined {
  return registry;
}

registerPrimaryPlugin({
  name: 'scripts',
  async start(ctx: PrimaryContext) {
    const connect = (address: string) => {
      const { username, password } = ctx.config.backend;
      return connectControl(address, { timeoutMs: Math.max(ctx.config.timeouts.connectMs, 2000), username: username || undefined, password: password || undefined }, false);
    };
    const r = new ScriptRegistry(() => ctx.topology, (mutate) => ctx.updateTopology(mutate), connect, log);
    registry = r;
    ctx.onScriptChange((change) => void r.onChange(change));
    ctx.beforeTopologyChange((current, next) => r.prepare(current, next));
    // A shard that restarted while Kvstore was stopped lost its scripts: give them back now.
    const state = r.state;
    if (state.lua.length > 0 || state.functions !== '') {
      await Promise.all(ctx.topology.shards.filter((s) => s.state !== 'down').map((s) =>
        r.loadInto(s.master, state, s.name).catch((err: Error) => log.warn({ shard: s.name, err: err.message }, 'could not load scripts at start'))));
    }
  },
});
