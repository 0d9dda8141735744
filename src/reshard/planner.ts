/**
 * Resharding plans: pure functions from a topology to the slot moves that reach a goal, and the
 * topology edits that apply them. Nothing here talks to a server; the migrator (Migrator.ts)
 * executes the moves. A move is a MigrationInfo: an inclusive slot range going from one shard
 * to another.
 */
import { TopologyError } from '../errors';
import { encodeRoutingTable, NO_SHARD, ownerTable, routingTable, slotsToRanges } from '../topology/slots';
import { MigrationInfo, ShardInfo, SLOT_COUNT, TopologySnapshot } from '../topology/types';

export type Move = MigrationInfo;

const ADDRESS = /^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/;

function shardIndex(topology: TopologySnapshot, name: string): number {
  const index = topology.shards.findIndex((s) => s.name === name);
  if (index < 0) throw new TopologyError(`unknown shard "${name}"`);
  return index;
}

/** Slots currently being moved (any direction), as a bitmap. */
export function migratingSlots(topology: TopologySnapshot): Uint8Array {
  const marks = new Uint8Array(SLOT_COUNT);
  for (const m of topology.migrations) marks.fill(1, m.first, m.last + 1);
  return marks;
}

/** Group per-slot (from, to) assignments into ranges of consecutive slots with the same pair. */
function groupMoves(pairs: Array<{ slot: number; from: string; to: string }>): Move[] {
  const sorted = [...pairs].sort((a, b) => a.slot - b.slot);
  const moves: Move[] = [];
  for (const p of sorted) {
    const last = moves[moves.length - 1];
    if (last && last.from === p.from && last.to === p.to && last.last === p.slot - 1) last.last = p.slot;
    else moves.push({ first: p.slot, last: p.slot, from: p.from, to: p.to });
  }
  return moves;
}

export function countSlots(moves: readonly Move[]): number {
  return moves.reduce((n, m) => n + (m.last - m.first + 1), 0);
}

/* ---------------- plans ---------------- */

export interface NewShard {
  name: string;
  master: string;
  replicas?: string[];
}

/** A new shard with no slots. Refuses a duplicate name or an address another shard uses. */
export function addShard(topology: TopologySnapshot, shard: NewShard): TopologySnapshot {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(shard.name)) throw new TopologyError(`invalid shard name "${shard.name}" (letters, digits, _ . -)`);
  const replicas = shard.replicas ?? [];
  for (const address of [shard.master, ...replicas]) {
    if (!ADDRESS.test(address)) throw new TopologyError(`invalid address "${address}" (expected HOST:PORT)`);
  }
  if (topology.shards.some((s) => s.name === shard.name)) throw new TopologyError(`shard "${shard.name}" already exists`);
  const used = new Set(topology.shards.flatMap((s) => [s.master, ...s.replicas]));
  for (const address of [shard.master, ...replicas]) {
    if (used.has(address)) throw new TopologyError(`${address} already belongs to another shard`);
  }
  if (new Set([shard.master, ...replicas]).size !== replicas.length + 1) throw new TopologyError('an address is listed twice');
  const next = structuredClone(topology);
  next.shards.push({ name: shard.name, master: shard.master, replicas: [...replicas], state: 'up', slots: [] });
  return next;
}

/** Move `first..last` to `to`: one move per run of slots with the same current owner. */
export function planMoveSlots(topology: TopologySnapshot, first: number, last: number, to: string): Move[] {
  if (!Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last >= SLOT_COUNT || first > last) {
    throw new TopologyError(`invalid slot range ${first}-${last} (0..${SLOT_COUNT - 1}, FIRST <= LAST)`);
  }
  const target = topology.shards[shardIndex(topology, to)];
  if (target.state === 'draining') throw new TopologyError(`shard "${to}" is being removed`);
  const owners = ownerTable(topology);
  const moving = migratingSlots(topology);
  const pairs: Array<{ slot: number; from: string; to: string }> = [];
  for (let slot = first; slot <= last; slot++) {
    if (moving[slot]) throw new TopologyError(`slot ${slot} is already being migrated`);
    const owner = owners[slot];
    if (owner === NO_SHARD) throw new TopologyError(`slot ${slot} has no owner`);
    const from = topology.shards[owner].name;
    if (from !== to) pairs.push({ slot, from, to });
  }
  return groupMoves(pairs);
}

/**
 * Even targets over `names`: floor(16384/n) each, and the remainder's +1 goes to the shards that
 * already hold the most, so that as few slots as possible move.
 */
function evenTargets(counts: Map<string, number>, names: string[]): Map<string, number> {
  const n = names.length;
  const base = Math.floor(SLOT_COUNT / n);
  const extra = SLOT_COUNT % n;
  const ranked = [...names].sort((a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0));
  return new Map(ranked.map((name, i) => [name, base + (i < extra ? 1 : 0)]));
}

/**
 * Hand `pool` (slots with their current owner, ascending) to the shards below their target, in
 * shard order, so each recipient gets runs of consecutive slots.
 */
function fill(pool: Array<{ slot: number; from: string }>, deficits: Array<[string, number]>): Move[] {
  const pairs: Array<{ slot: number; from: string; to: string }> = [];
  let i = 0;
  for (const [to, need] of deficits) {
    for (let k = 0; k < need && i < pool.length; k++, i++) pairs.push({ slot: pool[i].slot, from: pool[i].from, to });
  }
  return groupMoves(pairs);
}

function slotCounts(topology: TopologySnapshot): Map<string, number> {
  return new Map(topology.shards.map((s) => [s.name, s.slots.reduce((n, [a, b]) => n + (b - a + 1), 0)]));
}

function assertNoMigrations(topology: TopologySnapshot): void {
  if (topology.migrations.length > 0) throw new TopologyError('a migration is still in progress; wait for it to finish');
}

/**
 * Rebalance: even slots over every shard that is not being removed, moving as few slots as
 * possible. A shard above its target gives away its highest slots (its ranges stay compact);
 * shards being drained give away all of theirs.
 */
export function planRebalance(topology: TopologySnapshot): Move[] {
  assertNoMigrations(topology);
  const eligible = topology.shards.filter((s) => s.state !== 'draining').map((s) => s.name);
  if (eligible.length === 0) throw new TopologyError('no shard can take slots');
  const counts = slotCounts(topology);
  const targets = evenTargets(counts, eligible);
  const pool: Array<{ slot: number; from: string }> = [];
  for (const shard of topology.shards) {
    const keep = targets.get(shard.name) ?? 0;
    const excess = (counts.get(shard.name) ?? 0) - keep;
    if (excess <= 0) continue;
    // The highest `excess` slots of this shard.
    const owned: number[] = [];
    for (const [a, b] of shard.slots) for (let s = a; s <= b; s++) owned.push(s);
    owned.sort((x, y) => x - y);
    for (const slot of owned.slice(owned.length - excess)) pool.push({ slot, from: shard.name });
  }
  pool.sort((a, b) => a.slot - b.slot);
  const deficits = eligible
    .map((name) => [name, (targets.get(name) ?? 0) - (counts.get(name) ?? 0)] as [string, number])
    .filter(([, d]) => d > 0);
  return fill(pool, deficits);
}

/** Remove a shard: all of its slots go to the others (lowest first), evening them out. */
export function planRemoveShard(topology: TopologySnapshot, name: string): Move[] {
  assertNoMigrations(topology);
  const leaving = topology.shards[shardIndex(topology, name)];
  const others = topology.shards.filter((s) => s.name !== name && s.state !== 'draining').map((s) => s.name);
  if (others.length === 0) throw new TopologyError(`cannot remove "${name}": it is the only shard`);
  const counts = slotCounts(topology);
  const targets = evenTargets(counts, others);
  const pool: Array<{ slot: number; from: string }> = [];
  for (const [a, b] of leaving.slots) for (let s = a; s <= b; s++) pool.push({ slot: s, from: name });
  pool.sort((a, b) => a.slot - b.slot);
  const deficits = others
    .map((o) => [o, (targets.get(o) ?? 0) - (counts.get(o) ?? 0)] as [string, number])
    .filter(([, d]) => d > 0);
  const moves = fill(pool, deficits);
  if (countSlots(moves) < pool.length) {
    // Only when the others already exceed their targets: spread the rest round-robin.
    const placed = countSlots(moves);
    const rest = pool.slice(placed).map((p, i) => ({ slot: p.slot, from: p.from, to: others[i % others.length] }));
    return groupMoves([...expand(moves), ...rest]);
  }
  return moves;
}

function expand(moves: readonly Move[]): Array<{ slot: number; from: string; to: string }> {
  const out: Array<{ slot: number; from: string; to: string }> = [];
  for (const m of moves) for (let s = m.first; s <= m.last; s++) out.push({ slot: s, from: m.from, to: m.to });
  return out;
}

/* ---------------- topology edits (applied inside TopologyStore.update) ---------------- */

/** Reassign moved slots to their destination (migration finished, or no-copy mode). */
export function reassignSlots(topology: TopologySnapshot, moves: readonly Move[]): TopologySnapshot {
  const next = structuredClone(topology);
  const owners = ownerTable(next);
  const routing = next.routing ? routingTable(next) : null;
  for (const m of moves) {
    const to = shardIndex(next, m.to);
    owners.fill(to, m.first, m.last + 1);
    routing?.fill(to, m.first, m.last + 1);
  }
  const perShard: number[][] = next.shards.map(() => []);
  owners.forEach((owner, slot) => {
    if (owner !== NO_SHARD) perShard[owner].push(slot);
  });
  next.shards.forEach((s, i) => (s.slots = slotsToRanges(perShard[i])));
  if (routing) next.routing = encodeRoutingTable(routing);
  return next;
}

function sameMove(a: Move, b: Move): boolean {
  return a.first === b.first && a.last === b.last && a.from === b.from && a.to === b.to;
}

/**
 * Mark moves as migrating (workers then move keys on access, the migrator in the background).
 * With `pending`, workers hold commands on those slots until `activateMigrations`.
 */
export function startMigrations(topology: TopologySnapshot, moves: readonly Move[], pending = false): TopologySnapshot {
  const busy = migratingSlots(topology);
  for (const m of moves) {
    shardIndex(topology, m.from);
    shardIndex(topology, m.to);
    for (let s = m.first; s <= m.last; s++) if (busy[s]) throw new TopologyError(`slot ${s} is already being migrated`);
  }
  const next = structuredClone(topology);
  next.migrations.push(...moves.map((m) => (pending ? { first: m.first, last: m.last, from: m.from, to: m.to, pending: true } : { first: m.first, last: m.last, from: m.from, to: m.to })));
  return next;
}

/** Clear the `pending` flag of every migration: keys may move now. */
export function activateMigrations(topology: TopologySnapshot): TopologySnapshot {
  const next = structuredClone(topology);
  for (const m of next.migrations) delete m.pending;
  return next;
}

/** Finished moves: their slots belong to the destination and leave `migrations`. */
export function finishMigrations(topology: TopologySnapshot, moves: readonly Move[]): TopologySnapshot {
  const next = reassignSlots(topology, moves);
  next.migrations = next.migrations.filter((m) => !moves.some((d) => sameMove(d, m)));
  return next;
}

export function setShardState(topology: TopologySnapshot, name: string, state: ShardInfo['state']): TopologySnapshot {
  const next = structuredClone(topology);
  next.shards[shardIndex(next, name)].state = state;
  return next;
}

/** Drop a shard that owns nothing and takes part in no migration; the routing table is re-indexed. */
export function dropShard(topology: TopologySnapshot, name: string): TopologySnapshot {
  const index = shardIndex(topology, name);
  const shard = topology.shards[index];
  if (shard.slots.length > 0) throw new TopologyError(`shard "${name}" still owns slots`);
  if (topology.migrations.some((m) => m.from === name || m.to === name)) throw new TopologyError(`shard "${name}" takes part in a migration`);
  const next = structuredClone(topology);
  if (next.routing) {
    const routing = routingTable(next);
    const owners = ownerTable(next);
    for (let s = 0; s < SLOT_COUNT; s++) {
      let r = routing[s];
      if (r === index) r = owners[s]; // nothing should route to it; fall back to the owner
      routing[s] = r !== NO_SHARD && r > index ? r - 1 : r;
    }
    next.routing = encodeRoutingTable(routing);
  }
  next.shards.splice(index, 1);
  return next;
}

/** Copying keys needs both ends reachable: refuse moves from or to a shard that is down. */
export function assertShardsUp(topology: TopologySnapshot, moves: readonly Move[]): void {
  const down = new Set(topology.shards.filter((s) => s.state === 'down').map((s) => s.name));
  for (const m of moves) {
    const name = down.has(m.from) ? m.from : down.has(m.to) ? m.to : null;
    if (name) throw new TopologyError(`shard "${name}" is down; wait until it is up again (or use --no-copy in cache mode)`);
  }
}
