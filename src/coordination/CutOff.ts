/**
 * A proxy that cannot reach etcd must tell two cases apart (docs/ARCHITECTURE.md, "etcd out of
 * reach"):
 *   - etcd is down for everyone: nobody can change the topology, so it serves its last one
 *     (issue 17, item 5) — taking a newer one from a peer first, if a peer has one;
 *   - it is cut off alone: the others still reach etcd, and once its lease has expired the
 *     leader may move slots or promote a replica without it. Past its lease deadline it is
 *     fenced: it refuses the slots whose ownership changed (known from a peer's topology) and in
 *     store mode every write; everything when no peer could tell it the current topology.
 * It asks its peers (the last known membership, over their admin API: GET /fleet/etcd) whether
 * they reach etcd. The rule and its limits are pure functions here, so they are unit-tested.
 */
import http from 'node:http';
import type { FenceSpec } from '../proxy/LeaseFence';
import { FENCE_ALL } from '../proxy/LeaseFence';
import { NO_SHARD, routingTable, slotsToRanges } from '../topology/slots';
import { SLOT_COUNT, TopologySnapshot } from '../topology/types';

/** A peer's answer to GET /fleet/etcd. */
export interface PeerReport {
  id: string;
  /** Whether the peer reached etcd just now (it probes before answering). */
  etcd: 'ok' | 'unreachable';
  /** The topology it serves (with the routing table). */
  topology: TopologySnapshot;
}

export type Verdict =
  /** Some peer reaches etcd: this proxy is cut off alone. `current`: the newest topology a peer serves. */
  | { kind: 'alone'; current: TopologySnapshot }
  /** Peers answered and none reaches etcd (or there is no peer): etcd is down for everyone. */
  | { kind: 'everyone'; newest: TopologySnapshot | null }
  /** Peers were known but none answered: nothing is known of the fleet. */
  | { kind: 'unknown' };

function newestOf(reports: PeerReport[]): TopologySnapshot | null {
  let best: TopologySnapshot | null = null;
  for (const r of reports) if (!best || r.topology.epoch > best.epoch) best = r.topology;
  return best;
}

/** The rule: any peer reaching etcd means cut off alone; else down for everyone, if anyone confirms it (or no peer exists). */
export function judge(peersAsked: number, reports: PeerReport[]): Verdict {
  const reaching = reports.filter((r) => r.etcd === 'ok');
  if (reaching.length > 0) return { kind: 'alone', current: newestOf(reaching)! };
  if (reports.length > 0 || peersAsked === 0) return { kind: 'everyone', newest: newestOf(reports) };
  return { kind: 'unknown' };
}

/**
 * The slots whose ownership differs between the topology this proxy serves and the fleet's
 * current one: another shard, another master (a promotion), a shard down or back, or a slot in
 * a migration in either. Key-rewrite rules that differ change names in every slot: all of them.
 */
export function changedSlots(served: TopologySnapshot, current: TopologySnapshot): number[] {
  if (JSON.stringify(served.keyRewrite) !== JSON.stringify(current.keyRewrite)) return Array.from({ length: SLOT_COUNT }, (_, i) => i);
  const a = routingTable(served);
  const b = routingTable(current);
  const owner = (s: TopologySnapshot, index: number) => {
    if (index === NO_SHARD) return '-';
    const shard = s.shards[index];
    return shard ? `${shard.name}@${shard.master}/${shard.state === 'down' ? 'down' : 'up'}` : '?';
  };
  const moving = new Uint8Array(SLOT_COUNT);
  for (const m of [...served.migrations, ...current.migrations]) moving.fill(1, m.first, m.last + 1);
  const changed: number[] = [];
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    if (moving[slot] === 1 || owner(served, a[slot]) !== owner(current, b[slot])) changed.push(slot);
  }
  return changed;
}

/** What the workers refuse past the deadline, given what the peers said. */
export function fenceFor(verdict: Verdict, served: TopologySnapshot, storeMode: boolean): FenceSpec {
  if (verdict.kind !== 'alone') return FENCE_ALL;
  return { all: false, slots: slotsToRanges(changedSlots(served, verdict.current)), writes: storeMode };
}

/**
 * GET /fleet/etcd on every peer at once; the ones that do not answer in time are left out.
 * `asker`: this proxy, cut off alone, and the epoch whose changes its workers refuse (the peers
 * acknowledge no later epoch until it has seen it).
 */
export async function askPeers(admins: string[], timeoutMs: number, asker?: { id: string; seen: number }): Promise<PeerReport[]> {
  const path = asker ? `/fleet/etcd?id=${encodeURIComponent(asker.id)}&seen=${asker.seen}` : '/fleet/etcd';
  const answers = await Promise.all(admins.map((a) => getJson(a, path, timeoutMs).catch(() => null)));
  return answers.filter((r): r is PeerReport => isReport(r));
}

function isReport(r: unknown): r is PeerReport {
  const x = r as PeerReport | null;
  return !!x && typeof x.id === 'string' && (x.etcd === 'ok' || x.etcd === 'unreachable') && !!x.topology && typeof x.topology.epoch === 'number' && Array.isArray(x.topology.shards);
}

function getJson(address: string, path: string, timeoutMs: number): Promise<unknown> {
  const cut = address.lastIndexOf(':');
  const host = address.slice(0, cut).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(cut + 1));
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${address}${path}: HTTP ${res.statusCode}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (err) {
          reject(err);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${address}${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
