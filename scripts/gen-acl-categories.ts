/**
 * Regenerates src/security/aclCategories.json (the ACL command categories) from a real
 * redis-server's `ACL CAT` replies. Usage: `npm run build && node dist/scripts/gen-acl-categories.js`.
 * It starts its own redis-server on a free loopback port and stops it afterwards.
 * test/integration/acl-categories.test.ts fails when the committed file is stale.
 */
import fs from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { startRedis } from '../test/helpers/redis';
import { readAclCategories } from '../src/security/categorySource';

async function main() {
  const server = await startRedis();
  const redis = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true });
  try {
    await redis.connect();
    const data = await readAclCategories((...args) => redis.call(args[0], ...args.slice(1)));
    const file = path.join(__dirname, '../../src/security/aclCategories.json');
    fs.writeFileSync(file, JSON.stringify(data, null, 1) + '\n');
    console.log(`wrote ${data.categories.length} categories, ${Object.keys(data.commands).length} commands to ${file}`);
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
