/**
 * The ACL command categories (`@read`, `@dangerous`, ...) mapped onto Kvstore's command ids.
 * The data is read from a real redis-server by scripts/gen-acl-categories.ts into
 * aclCategories.json (committed; a test fails when it no longer matches the installed server),
 * so the categories are Redis's own, not a hand-kept list.
 */
import data from './aclCategories.json';
import { commands, commandId } from '../commands/table';
import type { AclCategoryData } from './categorySource';

const source = data as AclCategoryData;

export const ACL_CATEGORY_SOURCE: string = source.generatedFrom;

/** Category names in Redis's `ACL CAT` order. */
export const CATEGORY_NAMES: readonly string[] = source.categories;

const categoryIndex = new Map<string, number>(CATEGORY_NAMES.map((c, i) => [c, i]));

/** Index of a category by name (case-insensitive), or -1. */
export function categoryByName(name: string): number {
  return categoryIndex.get(name.toLowerCase()) ?? -1;
}

/** Per command id: a bit mask of its categories (bit i = CATEGORY_NAMES[i]; 21 fit in 32 bits). */
export const categoryMask: Int32Array = new Int32Array(commands.length);

/** Per command id: its subcommand ids (empty for commands that are not containers). */
export const subcommandIds: readonly number[][] = commands.map(() => [] as number[]);

/** Top-level command ids, in table order (containers before their subcommands). */
export const topLevelIds: readonly number[] = commands.flatMap((c, id) => (c.container ? [] : [id]));

/**
 * Categories of the commands the table has from a later Redis than the categories' source
 * (scripts/gen-command-table.ts NEWER_SUBCOMMANDS): Redis 7.2's own for them. The source wins
 * once the installed server knows the command.
 */
const NEWER_COMMANDS: Record<string, string[]> = { 'client|no-touch': ['slow', 'connection'] };

for (const [name, cats] of Object.entries({ ...NEWER_COMMANDS, ...source.commands })) {
  const id = commandId(name);
  if (id < 0) continue; // a command this table does not know: nothing could run it anyway
  let mask = 0;
  for (const c of cats) mask |= 1 << categoryIndex.get(c)!;
  categoryMask[id] = mask;
}
commands.forEach((c, id) => {
  if (c.container) subcommandIds[commandId(c.container)].push(id);
});

/** Full names (`get`, `config|get`) of the commands in category `index`, in table order. */
export function commandsInCategory(index: number): string[] {
  const bit = 1 << index;
  const out: string[] = [];
  commands.forEach((c, id) => {
    if ((categoryMask[id] & bit) !== 0) out.push(c.name);
  });
  return out;
}
