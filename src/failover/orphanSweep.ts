/**
 * Cache mode: delete keys a shard holds for slots that are not routed to it ("orphans").
 *
 * Why: while shard A was out, its slots were served by B and C, which kept the keys written
 * then. After A rejoins they are invisible, but if A failed again and its slots went back to B,
 * B would serve those old values although newer ones were written on A in between: a stale
 * read. So after every rejoin the other shards are swept (SCAN, slot of each key, UNLINK the
 * orphans), and a new ejection waits for a running sweep (see CacheFailover).
 * Slots being migrated (resharding) are skipped: their keys legitimately live on both ends.
 */
import { SlotHasher } from '../native/reference/hash';
import type { TopologySnapshot } from '../topology/types';
import { routingTable } from '../topology/slots';
import { ControlOptions, connectControl } from './replication';

export interface SweepResult {
  address: string;
  scanned: number;
  deleted: number;
}

export async function sweepOrphans(
  shardName: string,
  topology: () => TopologySnapshot,
  hash: { hash: 'crc16' | 'murmur'; murmurSeed: number },
  options: ControlOptions & { scanCount?: number },
): Promise<SweepResult> {
  const hasher = new SlotHasher();
  hasher.configure(hash.hash, hash.murmurSeed);
  const first = topology().shards.find((s) => s.name === shardName);
  if (!first) return { address: '', scanned: 0, deleted: 0 };
  const address = first.master;
  const client = await connectControl(address, options, false);
  let scanned = 0;
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const reply = (await client.command(['SCAN', cursor, 'COUNT', options.scanCount ?? 1000])) as [Buffer, Buffer[]];
      cursor = reply[0].toString();
      const keys = reply[1];
      scanned += keys.length;
      // Re-read the topology per batch: the routing may have changed since the sweep began.
      const snap = topology();
      const index = snap.shards.findIndex((s) => s.name === shardName);
      if (index < 0 || snap.shards[index].master !== address) break;
      const table = routingTable(snap);
      const migrating = new Set<number>();
      for (const m of snap.migrations) for (let s = m.first; s <= m.last; s++) migrating.add(s);
      const orphans = keys.filter((k) => {
        const slot = hasher.slot(k, 0, k.length);
        return table[slot] !== index && !migrating.has(slot);
      });
      if (orphans.length) deleted += Number(await client.command(['UNLINK', ...orphans]));
    } while (cursor !== '0');
  } finally {
    client.close();
  }
  return { address, scanned, deleted };
}
