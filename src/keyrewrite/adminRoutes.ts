/**
 * The admin API routes for key rewrite:
 *   GET    /key-rewrite              → 200 { rules: [{ pattern, generation }] }
 *   POST   /key-rewrite  {pattern}   → 200 { pattern, generation, epoch, rules } (add / bump)
 *   DELETE /key-rewrite  {pattern}   → 200 { pattern, epoch, rules }; 404 unknown pattern
 *                                      (the pattern may also come as ?pattern=...)
 *   POST   /key-rewrite/reclaim {batchKeys?, keysPerSecond?} → 202 reclaim status
 *   GET    /key-rewrite/reclaim      → 200 reclaim status
 * add/remove answer only after every worker acknowledged the new topology. Refusals are
 * KeyRewriteError (400, 404 for an unknown pattern), mapped by the AdminServer.
 */
import { AdminReply, AdminRoutes } from '../admin/AdminServer';
import { KeyRewriteAdmin, KeyRewriteError } from './KeyRewriteAdmin';

function nonNegative(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new KeyRewriteError(`${name} must be a non-negative number`);
  return value;
}

export function registerKeyRewriteRoutes(server: AdminRoutes, admin: KeyRewriteAdmin): void {
  server.route('GET', '/key-rewrite', () => ({ rules: admin.list() }));
  server.route('POST', '/key-rewrite', (req) => admin.add(req.body?.pattern));
  server.route('DELETE', '/key-rewrite', (req) => admin.remove(req.body?.pattern ?? req.query.get('pattern') ?? undefined));
  server.route('POST', '/key-rewrite/reclaim', (req) => {
    const batchKeys = nonNegative(req.body?.batchKeys, 'batchKeys');
    const keysPerSecond = nonNegative(req.body?.keysPerSecond, 'keysPerSecond');
    const options: { batchKeys?: number; keysPerSecond?: number } = {};
    if (batchKeys !== undefined) options.batchKeys = Math.max(1, Math.floor(batchKeys));
    if (keysPerSecond !== undefined) options.keysPerSecond = keysPerSecond;
    return AdminReply.json(admin.startReclaim(options), 202);
  });
  server.route('GET', '/key-rewrite/reclaim', () => admin.reclaimStatus());
}
