/**
 * The fleet's admin endpoints, on every proxy:
 *   GET /proxies   {proxies: [{id, address, admin, epoch, leader, leaseAgeMs}]} (every live proxy)
 *   GET /fleet     this proxy's view: etcd state, leader, failover active/suspended
 *   GET /fleet/etcd {id, etcd: ok|unreachable, topology}: whether it reaches etcd right now
 *                  (asked by a peer that does not: src/coordination/CutOff.ts); ?id=&seen= from
 *                  a peer cut off alone holds this proxy's acknowledgement at `seen`
 * and the hand-off: on a proxy that is not the leader, the leader-owned endpoints (failover,
 * resharding and jobs, shards, key rewrite) are forwarded to the leader's admin API, so `ctl`
 * works against any proxy.
 */
import http from 'node:http';
import { AdminReply, AdminServer, HttpError } from '../admin/AdminServer';
import { counterFrom, gaugeFrom, Registry } from '../admin/metrics';
import type { Fleet } from './Fleet';

/** Endpoints whose state lives with the leader's plugins. */
const LEADER_PATHS = [/^\/failover$/, /^\/shards(\/|$)/, /^\/reshard\//, /^\/jobs(\/|$)/, /^\/key-rewrite(\/|$)/];

const FORWARD_TIMEOUT_MS = 30_000;

export function isLeaderPath(path: string): boolean {
  return LEADER_PATHS.some((re) => re.test(path));
}

export function registerFleetRoutes(admin: AdminServer, metrics: Registry, fleet: Fleet): void {
  gaugeFrom(metrics, 'kvstore_fleet_etcd_up', '1 while this proxy reaches etcd (fleet coordination).', () => (fleet.status().etcd === 'ok' ? 1 : 0));
  gaugeFrom(metrics, 'kvstore_fleet_leader', '1 on the fleet leader (it runs failover, resharding and reclaim).', () => (fleet.status().isLeader ? 1 : 0));
  gaugeFrom(metrics, 'kvstore_fleet_proxies', 'Live proxies of the fleet, as this proxy sees them.', () => fleet.status().proxies);
  gaugeFrom(metrics, 'kvstore_fleet_failover_suspended', '1 while automatic failover is suspended because etcd is unreachable.', () => (fleet.status().failover === 'suspended' ? 1 : 0));
  counterFrom(metrics, 'kvstore_fleet_topology_changes_total', 'Topology changes received from etcd.', () => fleet.changesSeen);
  admin.route('GET', '/proxies', async () => ({ proxies: await fleet.proxies() }));
  admin.route('GET', '/fleet', () => fleet.status());
  // asked by a peer that cannot reach etcd: is it down for everyone or is that peer cut off alone?
  admin.route('GET', '/fleet/etcd', (req) => {
    const id = req.query.get('id');
    const seen = Number(req.query.get('seen'));
    return fleet.etcdReport(id && Number.isSafeInteger(seen) ? { id, seen } : undefined);
  });
  admin.intercept(async (req) => {
    if (!isLeaderPath(req.path)) return null;
    if (req.method !== 'GET' && fleet.status().etcd === 'unreachable') throw fleet.unreachableError();
    if (fleet.isLeader) return null;
    const leader = fleet.leaderAdmin();
    if (!leader) throw new HttpError(503, `no fleet leader right now (etcd: ${fleet.status().etcd}); ${req.method} ${req.path} needs the leader, retry in a few seconds`, 'E_COORDINATION');
    return forward(leader, req.method, req.path + (req.search ?? ''), req.method === 'GET' ? undefined : req.body);
  });
}

/** The same request on the leader's admin API; its status and body come back unchanged. */
function forward(address: string, method: string, pathAndQuery: string, body: unknown): Promise<AdminReply> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: pathAndQuery, timeout: FORWARD_TIMEOUT_MS, headers: payload ? { 'content-type': 'application/json' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve(new AdminReply(res.statusCode ?? 502, parsed, String(res.headers['content-type'] ?? 'application/json')));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${FORWARD_TIMEOUT_MS} ms`)));
    req.on('error', (err) => reject(new HttpError(502, `cannot reach the fleet leader at ${address}: ${err.message}`, 'E_COORDINATION')));
    req.end(payload);
  });
}
