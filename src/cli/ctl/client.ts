/** The admin API client `kvstore ctl` uses: JSON over HTTP, errors as CtlError with the API's message. */
import http from 'node:http';
import { KvstoreError } from '../../errors';

export class CtlError extends KvstoreError {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super('E_CTL', message);
  }
}

export class AdminClient {
  constructor(
    readonly host: string,
    readonly port: number,
    private readonly timeoutMs = 120_000,
  ) {}

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  get<T = any>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T = any>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  /** Raw text (e.g. /metrics). */
  text(path: string): Promise<string> {
    return this.send('GET', path).then((r) => r.text);
  }

  async request<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const { status, text } = await this.send(method, path, body);
    let parsed: any;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      throw new CtlError(`admin API ${method} ${path}: HTTP ${status}, not JSON: ${text.slice(0, 200)}`, status);
    }
    if (status >= 400) throw new CtlError(parsed?.error?.message ?? `admin API ${method} ${path}: HTTP ${status}`, status);
    return parsed as T;
  }

  private send(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: this.host, port: this.port, method, path, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}, timeout: this.timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new CtlError(`admin API at ${this.address} did not answer within ${this.timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED') reject(new CtlError(`cannot reach the admin API at ${this.address} (is kvstore running? pass --admin HOST:PORT or --config FILE)`));
        else reject(err instanceof CtlError ? err : new CtlError(`admin API at ${this.address}: ${err.message}`));
      });
      req.end(payload);
    });
  }
}
