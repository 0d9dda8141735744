import { SLOT_COUNT, SlotRange, TopologySnapshot } from './types';

/** Slots split evenly over `n` shards in order, as Redis Cluster's `--cluster create` does. */
export function evenSlotRanges(n: number): SlotRange[] {
  const ranges: SlotRange[] = [];
  for (let i = 0; i < n; i++) {
    const first = Math.floor((i * SLOT_COUNT) / n);
    const last = Math.floor(((i + 1) * SLOT_COUNT) / n) - 1;
    ranges.push([first, last]);
  }
  return ranges;
}

/** Inclusive ranges → a compact list; [3,4,5,9] → [[3,5],[9,9]]. */
export function slotsToRanges(slots: Iterable<number>): SlotRange[] {
  const sorted = [...slots].sort((a, b) => a - b);
  const ranges: SlotRange[] = [];
  for (const s of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && s === last[1] + 1) last[1] = s;
    else if (!last || s > last[1]) ranges.push([s, s]);
  }
  return ranges;
}

export const NO_SHARD = 0xffff;
/**
 * Where a worker's slot table points a slot that a fleet proxy cut off from etcd refuses
 * (src/proxy/LeaseFence.ts): past any shard, so forwarding answers -TRYAGAIN for it.
 */
export const FENCED_SHARD = 0xfffe;

/** The owner table: slot → index into `snapshot.shards` (NO_SHARD where nobody owns it). */
export function ownerTable(snapshot: TopologySnapshot): Uint16Array {
  const table = new Uint16Array(SLOT_COUNT).fill(NO_SHARD);
  snapshot.shards.forEach((shard, index) => {
    for (const [first, last] of shard.slots) table.fill(index, first, last + 1);
  });
  return table;
}

/** The routing table workers use: `snapshot.routing` when the primary set one, else the owners. */
export function routingTable(snapshot: TopologySnapshot): Uint16Array {
  if (!snapshot.routing) return ownerTable(snapshot);
  const bytes = Buffer.from(snapshot.routing, 'base64');
  if (bytes.length !== SLOT_COUNT * 2) throw new Error(`routing table has ${bytes.length} bytes, expected ${SLOT_COUNT * 2}`);
  const table = new Uint16Array(SLOT_COUNT);
  for (let i = 0; i < SLOT_COUNT; i++) table[i] = bytes.readUInt16LE(i * 2);
  return table;
}

export function encodeRoutingTable(table: Uint16Array): string {
  const bytes = Buffer.alloc(SLOT_COUNT * 2);
  for (let i = 0; i < SLOT_COUNT; i++) bytes.writeUInt16LE(table[i], i * 2);
  return bytes.toString('base64');
}
