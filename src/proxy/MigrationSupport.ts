/**
 * Installs the resharding hook (MigrationHook) on a ProxyServer's migration seam and keeps its
 * backend credentials and timeout in step with the live config.
 */
import type { KvstoreConfig } from '../config/types';
import type { ProxyHooks } from './Hooks';
import { MigrationHook, MigrationHookOptions } from './MigrationHook';

function hookOptions(config: KvstoreConfig): MigrationHookOptions {
  return {
    auth: { username: config.backend.username, password: config.backend.password },
    // MIGRATE must finish well within the client's request timeout (it is part of the request).
    timeoutMs: Math.max(100, Math.floor(config.timeouts.requestMs / 2)),
  };
}

export class MigrationSupport {
  readonly hook: MigrationHook;

  constructor(hooks: ProxyHooks, config: KvstoreConfig) {
    this.hook = new MigrationHook(hookOptions(config));
    hooks.migration = this.hook.handle;
  }

  applyConfig(config: KvstoreConfig): void {
    this.hook.setOptions(hookOptions(config));
  }
}
