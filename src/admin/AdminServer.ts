/**
 * The admin HTTP API (in the primary, loopback by default). It is a small router: any module
 * can add an endpoint with `admin.route('POST', '/failover', handler)`. Handlers get the parsed
 * JSON body and return a value (sent as JSON, 200), an `AdminReply` (own status/content type),
 * or throw: typed errors map to HTTP statuses (see `statusForError`), so a handler never writes
 * to the response itself.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KvstoreError } from '../errors';
import { createLogger, Logger } from '../log';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface AdminRequest {
  method: HttpMethod;
  path: string;
  /** `:name` segments of the route pattern. */
  params: Record<string, string>;
  query: URLSearchParams;
  /** Parsed JSON body (POST/PUT/DELETE); `{}` when empty. */
  body: any;
  raw: http.IncomingMessage;
}

export type AdminHandler = (req: AdminRequest) => unknown | Promise<unknown>;

/**
 * Runs before routing (a fleet hands leader-owned endpoints to the leader): a reply ends the
 * request, null lets it through.
 */
export type AdminInterceptor = (req: { method: HttpMethod; path: string; search: string; body: any }) => Promise<AdminReply | null>;

/** A reply with an explicit status and/or a non-JSON body (e.g. Prometheus text). */
export class AdminReply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly contentType = 'application/json',
  ) {}
  static text(body: string, contentType = 'text/plain; charset=utf-8', status = 200): AdminReply {
    return new AdminReply(status, body, contentType);
  }
  static json(body: unknown, status = 200): AdminReply {
    return new AdminReply(status, body);
  }
}

/** An error with an explicit HTTP status (400 for bad input, 404, 409 for conflicts...). */
export class HttpError extends KvstoreError {
  constructor(
    readonly status: number,
    message: string,
    code = `E_HTTP_${status}`,
  ) {
    super(code, message);
  }
}

/** KvstoreError codes → HTTP statuses. Modules may add their own codes with `mapErrorCode`. */
const STATUS_BY_CODE = new Map<string, number>([
  ['E_CONFIG', 400],
  ['E_BAD_REQUEST', 400],
  ['E_NOT_FOUND', 404],
  ['E_TOPOLOGY', 409],
  ['E_CONFLICT', 409],
  ['E_BACKEND', 502],
  ['E_REPLY', 502],
  ['E_TIMEOUT', 504],
  ['E_UNAVAILABLE', 503],
]);

export function mapErrorCode(code: string, status: number): void {
  STATUS_BY_CODE.set(code, status);
}

export function statusForError(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  const status = (err as { status?: unknown })?.status;
  if (typeof status === 'number' && status >= 400 && status < 600) return status;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && STATUS_BY_CODE.has(code)) return STATUS_BY_CODE.get(code)!;
  return 500;
}

/** The router as features see it (PrimaryContext.admin): they add endpoints, nothing else. */
export interface AdminRoutes {
  /** Register an endpoint (`:param` segments; a later registration of the same method and path wins). */
  route(method: HttpMethod, pattern: string, handler: AdminHandler): unknown;
  listRoutes(): Array<{ method: HttpMethod; path: string }>;
}

interface Route {
  method: HttpMethod;
  pattern: string;
  segments: string[];
  handler: AdminHandler;
}

export interface AdminServerOptions {
  host: string;
  port: number;
  logger?: Logger;
  /** Largest request body accepted (JSON). */
  maxBodyBytes?: number;
}

export class AdminServer implements AdminRoutes {
  private readonly routes: Route[] = [];
  private readonly server: http.Server;
  private readonly logger: Logger;
  private readonly maxBodyBytes: number;
  private interceptor: AdminInterceptor | null = null;

  constructor(private readonly options: AdminServerOptions) {
    this.logger = options.logger ?? createLogger('admin');
    this.maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
  }

  /** Register an endpoint. Patterns may have `:param` segments: `/jobs/:id`. Later wins on duplicates. */
  route(method: HttpMethod, pattern: string, handler: AdminHandler): this {
    const existing = this.routes.findIndex((r) => r.method === method && r.pattern === pattern);
    const route: Route = { method, pattern, segments: splitPath(pattern), handler };
    if (existing >= 0) this.routes[existing] = route;
    else this.routes.push(route);
    return this;
  }

  /** Install (or remove, with null) the one interceptor. */
  intercept(fn: AdminInterceptor | null): this {
    this.interceptor = fn;
    return this;
  }

  /** Registered routes, for GET / (discoverability). */
  listRoutes(): Array<{ method: HttpMethod; path: string }> {
    return this.routes.map((r) => ({ method: r.method, path: r.pattern }));
  }

  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    return this.address();
  }

  get listening(): boolean {
    return this.server.listening;
  }

  address(): { host: string; port: number } {
    const a = this.server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const method = (req.method ?? 'GET').toUpperCase();
    const segments = splitPath(url.pathname);
    let matchedPath = false;
    let found: { route: Route; params: Record<string, string> } | undefined;
    for (const route of this.routes) {
      const params = matchSegments(route.segments, segments);
      if (!params) continue;
      matchedPath = true;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) {
        found = { route, params };
        break;
      }
    }
    try {
      const body = method === 'GET' || method === 'HEAD' ? {} : await readJsonBody(req, this.maxBodyBytes);
      if (this.interceptor) {
        const taken = await this.interceptor({ method: method as HttpMethod, path: url.pathname, search: url.search, body });
        if (taken) {
          send(res, taken.status, taken.body, taken.contentType);
          return;
        }
      }
      if (!found) {
        if (matchedPath) throw new HttpError(405, `${method} is not allowed on ${url.pathname}`);
        throw new HttpError(404, `no endpoint ${method} ${url.pathname}; see GET / for the list`);
      }
      const result = await found.route.handler({ method: method as HttpMethod, path: url.pathname, params: found.params, query: url.searchParams, body, raw: req });
      if (result instanceof AdminReply) send(res, result.status, result.body, result.contentType);
      else send(res, 200, result === undefined ? { ok: true } : result);
    } catch (err) {
      const status = statusForError(err);
      const code = (err as { code?: string }).code ?? 'E_INTERNAL';
      const message = (err as Error).message ?? String(err);
      if (status >= 500) this.logger.error({ err, method, path: url.pathname }, 'admin request failed');
      else this.logger.info({ method, path: url.pathname, status, message }, 'admin request refused');
      send(res, status, { error: { code, message } });
    }
  }
}

function splitPath(p: string): string[] {
  return p.split('/').filter(Boolean);
}

function matchSegments(pattern: string[], actual: string[]): Record<string, string> | null {
  if (pattern.length !== actual.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i].startsWith(':')) params[pattern[i].slice(1)] = decodeURIComponent(actual[i]);
    else if (pattern[i] !== actual[i]) return null;
  }
  return params;
}

async function readJsonBody(req: http.IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `request body larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `request body is not valid JSON: ${(err as Error).message}`, 'E_BAD_REQUEST');
  }
}

function send(res: http.ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  const text = typeof body === 'string' && !contentType.startsWith('application/json') ? body : JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}
