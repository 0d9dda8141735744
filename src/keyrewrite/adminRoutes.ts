/**
 * The admin API routes for key rewrite, independent of the HTTP server that mounts them:
 *   GET    /key-rewrite              → 200 { rules: [{ pattern, generation }] }
 *   POST   /key-rewrite  {pattern}   → 200 { pattern, generation, epoch, rules } (add / bump)
 *   DELETE /key-rewrite  {pattern}   → 200 { pattern, epoch, rules }; 404 unknown pattern
 *                                      (the pattern may also come as ?pattern=...)
 *   POST   /key-rewrite/reclaim {batchKeys?, keysPerSecond?} → 202 reclaim status
 *   GET    /key-rewrite/reclaim      → 200 reclaim status
 * add/remove answer only after every worker acknowledged the new topology.
 */
import { KeyRewriteAdmin, KeyRewriteError } from './KeyRewriteAdmin';

export interface AdminRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

export interface AdminResponse {
  status: number;
  body: unknown;
}

export interface AdminRoute {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  handle(req: AdminRequest): Promise<AdminResponse>;
}

function field(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
}

async function guarded(fn: () => Promise<AdminResponse> | AdminResponse): Promise<AdminResponse> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof KeyRewriteError) return { status: err.status, body: { error: err.message, code: err.code } };
    throw err;
  }
}

export function keyRewriteRoutes(admin: KeyRewriteAdmin): AdminRoute[] {
  return [
    { method: 'GET', path: '/key-rewrite', handle: async () => ({ status: 200, body: { rules: admin.list() } }) },
    { method: 'POST', path: '/key-rewrite', handle: (req) => guarded(async () => ({ status: 200, body: await admin.add(field(req.body, 'pattern')) })) },
    {
      method: 'DELETE',
      path: '/key-rewrite',
      handle: (req) => guarded(async () => ({ status: 200, body: await admin.remove(field(req.body, 'pattern') ?? req.query.get('pattern') ?? undefined) })),
    },
    {
      method: 'POST',
      path: '/key-rewrite/reclaim',
      handle: (req) =>
        guarded(() => {
          const batchKeys = field(req.body, 'batchKeys');
          const keysPerSecond = field(req.body, 'keysPerSecond');
          for (const v of [batchKeys, keysPerSecond]) {
            if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) throw new KeyRewriteError('batchKeys and keysPerSecond must be non-negative numbers');
          }
          const options: { batchKeys?: number; keysPerSecond?: number } = {};
          if (typeof batchKeys === 'number') options.batchKeys = Math.max(1, Math.floor(batchKeys));
          if (typeof keysPerSecond === 'number') options.keysPerSecond = keysPerSecond;
          return { status: 202, body: admin.startReclaim(options) };
        }),
    },
    { method: 'GET', path: '/key-rewrite/reclaim', handle: async () => ({ status: 200, body: admin.reclaimStatus() }) },
  ];
}

/**
 * Serve `routes` on a node:http request (JSON in, JSON out). Returns false when no route matches
 * the path, so the caller's server can answer it. For admin servers without a route registry.
 */
export async function serveAdminRoutes(routes: AdminRoute[], req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const forPath = routes.filter((r) => r.path === url.pathname);
  if (forPath.length === 0) return false;
  const send = (status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const route = forPath.find((r) => r.method === req.method);
  if (!route) {
    send(405, { error: `${req.method} not allowed on ${url.pathname}` });
    return true;
  }
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  let body: unknown;
  try {
    body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
  } catch {
    send(400, { error: 'the body is not valid JSON' });
    return true;
  }
  try {
    const out = await route.handle({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, body });
    send(out.status, out.body);
  } catch (err) {
    send(500, { error: (err as Error).message });
  }
  return true;
}
