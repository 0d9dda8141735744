/**
 * `kvstore ctl [--admin HOST:PORT] key-rewrite ...`:
 *   key-rewrite add PATTERN        add PATTERN, or bump its generation: its keys are dropped
 *   key-rewrite remove PATTERN     remove PATTERN: the keys it hid are visible again
 *   key-rewrite list               the active patterns and their generations
 *   key-rewrite reclaim [--batch N] [--rate KEYS_PER_SEC] [--wait]
 *                                  unlink keys of dead generations on every shard (paced)
 *   key-rewrite reclaim-status     progress of the reclaim job
 * add/remove return once every worker serves the new rules. Exit code 0 on success, 1 when the
 * admin API refused the request, 2 on usage errors.
 */
import http from 'node:http';

export const KEY_REWRITE_USAGE = `usage: kvstore ctl [--admin HOST:PORT] key-rewrite add PATTERN
       kvstore ctl [--admin HOST:PORT] key-rewrite remove PATTERN
       kvstore ctl [--admin HOST:PORT] key-rewrite list
       kvstore ctl [--admin HOST:PORT] key-rewrite reclaim [--batch N] [--rate KEYS_PER_SEC] [--wait]
       kvstore ctl [--admin HOST:PORT] key-rewrite reclaim-status`;

export interface CtlIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo: CtlIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };

interface HttpResult {
  status: number;
  body: any;
}

export function adminRequest(admin: string, method: string, path: string, body?: unknown): Promise<HttpResult> {
  const i = admin.lastIndexOf(':');
  const host = admin.slice(0, i).replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = Number(admin.slice(i + 1));
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port, method, path, headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', (err) => reject(new Error(`cannot reach the admin API at ${admin}: ${err.message}`)));
    if (payload) req.write(payload);
    req.end();
  });
}

function errorText(result: HttpResult): string {
  const b = result.body;
  return typeof b === 'object' && b && 'error' in b ? String(b.error) : `HTTP ${result.status} ${typeof b === 'string' ? b : JSON.stringify(b)}`;
}

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Run `key-rewrite <args>` against the admin API at `admin` (HOST:PORT). Returns the exit code. */
export async function keyRewriteCommand(args: string[], admin: string, io: CtlIo = defaultIo): Promise<number> {
  const [sub, ...rest] = args;
  const json = rest.includes('--json');
  const positional = rest.filter((a) => a !== '--json');
  try {
    switch (sub) {
      case 'add':
      case 'remove': {
        if (positional.length !== 1) break;
        const pattern = positional[0];
        const result = sub === 'add' ? await adminRequest(admin, 'POST', '/key-rewrite', { pattern }) : await adminRequest(admin, 'DELETE', '/key-rewrite', { pattern });
        if (result.status !== 200) {
          io.err(`error: ${errorText(result)}`);
          return 1;
        }
        if (json) io.out(JSON.stringify(result.body));
        else if (sub === 'add') io.out(`added ${pattern} generation ${result.body.generation} (epoch ${result.body.epoch}, on every worker)`);
        else io.out(`removed ${pattern} (epoch ${result.body.epoch}, on every worker)`);
        return 0;
      }
      case 'list': {
        if (positional.length !== 0) break;
        const result = await adminRequest(admin, 'GET', '/key-rewrite');
        if (result.status !== 200) {
          io.err(`error: ${errorText(result)}`);
          return 1;
        }
        const rules = result.body.rules as { pattern: string; generation: number }[];
        if (json) io.out(JSON.stringify(result.body));
        else for (const r of rules) io.out(`${r.pattern}\t${r.generation}`);
        return 0;
      }
      case 'reclaim': {
        const batch = option(positional, '--batch');
        const rate = option(positional, '--rate');
        const body: Record<string, number> = {};
        if (batch !== undefined) body.batchKeys = Number(batch);
        if (rate !== undefined) body.keysPerSecond = Number(rate);
        if (Object.values(body).some((v) => !Number.isFinite(v) || v < 0)) break;
        let result = await adminRequest(admin, 'POST', '/key-rewrite/reclaim', body);
        if (result.status !== 200 && result.status !== 202) {
          io.err(`error: ${errorText(result)}`);
          return 1;
        }
        if (positional.includes('--wait')) {
          while (result.body.state === 'running') {
            await new Promise((r) => setTimeout(r, 250));
            result = await adminRequest(admin, 'GET', '/key-rewrite/reclaim');
          }
        }
        io.out(json ? JSON.stringify(result.body) : formatReclaim(result.body));
        return result.body.state === 'failed' ? 1 : 0;
      }
      case 'reclaim-status': {
        const result = await adminRequest(admin, 'GET', '/key-rewrite/reclaim');
        io.out(json ? JSON.stringify(result.body) : formatReclaim(result.body));
        return 0;
      }
    }
  } catch (err) {
    io.err(`error: ${(err as Error).message}`);
    return 1;
  }
  io.err(KEY_REWRITE_USAGE);
  return 2;
}

function formatReclaim(status: { state: string; shards: { shard: string; scanned: number; unlinked: number; done: boolean; error?: string }[] }): string {
  const lines = [`reclaim: ${status.state}`];
  for (const s of status.shards ?? []) lines.push(`  ${s.shard}: scanned ${s.scanned}, unlinked ${s.unlinked}${s.done ? ', done' : ''}${s.error ? `, error: ${s.error}` : ''}`);
  return lines.join('\n');
}
