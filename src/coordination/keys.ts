/**
 * Where a fleet keeps its state in etcd, under `coordination.etcd.prefix` (the client is
 * namespaced to it, so these are relative):
 *   topology          the TopologySnapshot as JSON; every change is a compare-and-swap on its mod revision
 *   members/<id>      one per live proxy, under its lease: {id, address, admin, epoch} (epoch = its acknowledgement)
 *   election/         the leader election (etcd's election recipe: the lowest create revision leads)
 *   jobs              the resharding job list (JSON), written by the leader
 *   health/<id>       store mode: {down: [master addresses]} this proxy sees unreachable, under its lease
 */
export const TOPOLOGY_KEY = 'topology';
export const MEMBERS_PREFIX = 'members/';
export const ELECTION_NAME = 'election';
export const JOBS_KEY = 'jobs';

export function memberKey(id: string): string {
  return MEMBERS_PREFIX + id;
}

export const HEALTH_PREFIX = 'health/';

export function healthKey(id: string): string {
  return HEALTH_PREFIX + id;
}
