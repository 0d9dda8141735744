import test from 'ava';
import { createSlotFilter } from '../../src/reshard/slotFilter';
import { ReferenceHotPath } from '../../src/native';
import { SLOT_COUNT } from '../../src/topology/types';

const limits = { maxBulkBytes: 512 * 1024 * 1024, maxInlineBytes: 64 * 1024 } as never;

for (const hash of ['crc16', 'murmur'] as const) {
  test(`the migrator's filter keeps exactly the keys of the wanted slots (${hash}, same slots as the workers)`, (t) => {
    const filter = createSlotFilter({ hash, murmurSeed: 7, limits });
    const reference = new ReferenceHotPath();
    reference.configure({ maxBulkBytes: 1 << 20, maxInlineBytes: 1 << 16, hash, murmurSeed: 7 });
    const keys = Array.from({ length: 5000 }, (_, i) => Buffer.from(i % 10 === 0 ? `{tag${i % 7}}:k${i}` : `key:${i}`));
    const wanted = new Uint8Array(SLOT_COUNT);
    wanted.fill(1, 1000, 6000);
    const { keys: kept, slots } = filter(keys, wanted);
    const expected = keys.filter((k) => wanted[reference.keySlot(k)] === 1);
    t.deepEqual(kept.map(String), expected.map(String));
    t.deepEqual([...slots], expected.map((k) => reference.keySlot(k)));
    t.true(kept.length > 1000 && kept.length < 4000);
  });
}
