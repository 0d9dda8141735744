/**
 * src/security/aclCategories.json must match the installed redis-server's `ACL CAT` replies
 * (regenerate with `npm run build && node dist/scripts/gen-acl-categories.js`).
 */
import test from 'ava';
import data from '../../src/security/aclCategories.json';
import { RespClient } from '../../src/resp';
import { readAclCategories } from '../../src/security/categorySource';
import { commandId } from '../../src/commands/table';
import { startRedisGroup } from '../helpers/redis';

test('the committed ACL categories are those of the installed redis-server', async (t) => {
  const [redis] = await startRedisGroup(1, t.teardown);
  const client = new RespClient(redis.address, { strings: true });
  t.teardown(() => client.close());
  const live = await readAclCategories((...args) => client.command(args));
  t.deepEqual(data, live, 'stale: run `npm run build && node dist/scripts/gen-acl-categories.js`');
  // Every command of the command table has its categories (a rename would leave one without).
  for (const name of Object.keys(live.commands)) t.true(commandId(name) >= 0, name);
});
