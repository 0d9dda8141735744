/**
 * Admin API endpoints for resharding (registered by primary-plugin.ts):
 *   POST   /shards              {name, master, replicas?}      add a shard with no slots → topology
 *   DELETE /shards/:name        ?noCopy=1                      remove-shard job (drain, then drop)
 *   POST   /reshard/rebalance   {noCopy?}                      rebalance job
 *   POST   /reshard/move-slots  {first, last, shard, noCopy?}  move-slots job
 *   POST   /reshard/remove-shard {name, noCopy?}               remove-shard job
 *   GET    /jobs                                               {jobs: [JobInfo]} (newest last)
 *   GET    /jobs/:id                                           JobInfo
 * Job requests answer 202 with the JobInfo; a running job makes them answer 409.
 */
import { AdminReply, AdminRoutes, HttpError } from '../admin/AdminServer';
import type { JobManager } from './JobManager';

function requireString(body: Record<string, unknown>, field: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v === '') throw new HttpError(400, `"${field}" is required (a string)`);
  return v;
}

function requireSlot(body: Record<string, unknown>, field: string): number {
  const v = body[field];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new HttpError(400, `"${field}" is required (a slot number)`);
  return v;
}

export function registerReshardRoutes(admin: AdminRoutes, jobs: JobManager): void {
  admin.route('POST', '/shards', async (req) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const replicas = body.replicas ?? [];
    if (!Array.isArray(replicas) || replicas.some((r) => typeof r !== 'string')) throw new HttpError(400, '"replicas" must be a list of HOST:PORT');
    const topology = await jobs.addShard({ name: requireString(body, 'name'), master: requireString(body, 'master'), replicas: replicas as string[] });
    return AdminReply.json({ epoch: topology.epoch, shard: topology.shards[topology.shards.length - 1] }, 201);
  });

  admin.route('POST', '/reshard/rebalance', (req) => AdminReply.json(jobs.rebalance({ noCopy: !!req.body?.noCopy }), 202));

  admin.route('POST', '/reshard/move-slots', (req) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    return AdminReply.json(jobs.moveSlots(requireSlot(body, 'first'), requireSlot(body, 'last'), requireString(body, 'shard'), { noCopy: !!body.noCopy }), 202);
  });

  admin.route('POST', '/reshard/remove-shard', (req) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    return AdminReply.json(jobs.removeShard(requireString(body, 'name'), { noCopy: !!body.noCopy }), 202);
  });

  admin.route('DELETE', '/shards/:name', (req) => AdminReply.json(jobs.removeShard(req.params.name, { noCopy: req.query.get('noCopy') === '1' }), 202));

  admin.route('GET', '/jobs', () => ({ jobs: jobs.list() }));

  admin.route('GET', '/jobs/:id', (req) => {
    const job = jobs.get(Number(req.params.id));
    if (!job) throw new HttpError(404, `no job ${req.params.id}`);
    return job;
  });
}
