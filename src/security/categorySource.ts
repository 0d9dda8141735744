/**
 * Reads the ACL command categories of a running redis-server: `ACL CAT` (the category names, in
 * Redis's order) and `ACL CAT <category>` for each (the full command names in it). Used by
 * scripts/gen-acl-categories.ts to write src/security/aclCategories.json, and by the test that
 * fails when that file no longer matches the installed redis-server.
 */
export interface AclCategoryData {
  /** "redis 7.0.15": the server the data was read from. */
  generatedFrom: string;
  /** Category names in `ACL CAT` order (ACL LIST's best-fit pass walks them in this order). */
  categories: string[];
  /** Full command name (`get`, `config|get`) → its categories, in `categories` order; sorted by name. */
  commands: Record<string, string[]>;
}

/** Anything that sends one command and returns the decoded reply (ioredis `call`, RespClient). */
export type CallFn = (...args: string[]) => Promise<unknown>;

export async function readAclCategories(call: CallFn): Promise<AclCategoryData> {
  const categories = ((await call('ACL', 'CAT')) as unknown[]).map(String);
  const byCommand = new Map<string, string[]>();
  for (const category of categories) {
    const names = ((await call('ACL', 'CAT', category)) as unknown[]).map((n) => String(n).toLowerCase());
    for (const name of names) {
      const list = byCommand.get(name) ?? [];
      list.push(category);
      byCommand.set(name, list);
    }
  }
  const info = String(await call('INFO', 'server'));
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  const commands: Record<string, string[]> = {};
  for (const name of [...byCommand.keys()].sort()) commands[name] = byCommand.get(name)!;
  return { generatedFrom: `redis ${version}`, categories, commands };
}
