/**
 * Differential test: our glob matcher against a real redis-server. Random keys (over an alphabet
 * rich in glob syntax, braces and bytes >= 0x80) are stored, then for random patterns
 * `KEYS pattern` must return exactly the keys our matcher accepts.
 */
import test from 'ava';
import fc from 'fast-check';
import Redis from 'ioredis';
import { globMatch } from '../../src/keyrewrite/glob';
import { startRedisGroup } from '../helpers/redis';

const ALPHABET = Buffer.from('ab-]^[\\*?{}:', 'latin1');
const byte = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...ALPHABET) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);
const bytes = (maxLength: number) => fc.array(byte, { maxLength }).map((a) => Buffer.from(a));

test('KEYS pattern on a real redis-server selects exactly the keys globMatch accepts', async (t) => {
  const [server] = await startRedisGroup(1, t.teardown);
  const redis = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true });
  await redis.connect();
  t.teardown(() => redis.disconnect());

  const keys = new Map<string, Buffer>();
  for (const k of fc.sample(bytes(8), { numRuns: 600, seed: 7 })) keys.set(k.toString('latin1'), k);
  for (const k of ['', 'a', 'ab', 'a-b', ']', '\\', '*', '[', '{a}b', '\xff', '\x80a']) keys.set(k, Buffer.from(k, 'latin1'));
  const pipeline = redis.pipeline();
  for (const k of keys.values()) pipeline.set(k, '1');
  await pipeline.exec();
  t.is(await redis.dbsize(), keys.size);

  let checked = 0;
  let nonTrivial = 0;
  await fc.assert(
    fc.asyncProperty(bytes(7), async (pattern) => {
      const fromRedis = (await redis.keysBuffer(pattern as unknown as string)).map((k) => k.toString('latin1')).sort();
      const ours = [...keys.values()].filter((k) => globMatch(pattern, k)).map((k) => k.toString('latin1')).sort();
      checked++;
      if (ours.length > 0 && ours.length < keys.size) nonTrivial++;
      return JSON.stringify(fromRedis) === JSON.stringify(ours);
    }),
    { numRuns: 1500, seed: 11 },
  );
  t.true(checked >= 1500);
  t.true(nonTrivial > 200, `only ${nonTrivial} patterns selected a proper subset`);
});
