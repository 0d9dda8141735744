/**
 * A minimal RESP2 client for the suite's own needs: fill the keyspace through each system before
 * the GET/MGET runs and check that every system answers the benchmark commands correctly (an
 * error reply would otherwise be counted as a fast, successful request by redis-benchmark).
 */
import net from 'node:net';

export type Reply = string | number | null | Error | Reply[];

export function encodeCommand(args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const b = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Parse one reply at `offset`; returns null when the buffer does not hold a whole reply yet. */
export function parseReply(buf: Buffer, offset: number): { reply: Reply; next: number } | null {
  if (offset >= buf.length) return null;
  const lineEnd = buf.indexOf('\r\n', offset);
  if (lineEnd < 0) return null;
  const type = String.fromCharCode(buf[offset]);
  const line = buf.toString('utf8', offset + 1, lineEnd);
  const after = lineEnd + 2;
  switch (type) {
    case '+':
      return { reply: line, next: after };
    case '-':
      return { reply: new Error(line), next: after };
    case ':':
      return { reply: Number(line), next: after };
    case '$': {
      const len = Number(line);
      if (len < 0) return { reply: null, next: after };
      if (buf.length < after + len + 2) return null;
      return { reply: buf.toString('utf8', after, after + len), next: after + len + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { reply: null, next: after };
      const items: Reply[] = [];
      let at = after;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at);
        if (!item) return null;
        items.push(item.reply);
        at = item.next;
      }
      return { reply: items, next: at };
    }
    default:
      throw new Error(`bad RESP type byte ${JSON.stringify(type)}`);
  }
}

/**
 * Send all commands pipelined in windows of `window` commands and return every reply in order.
 * Bounded by `timeoutMs` overall.
 */
export async function pipeline(port: number, commands: Array<Array<string | Buffer>>, options: { window?: number; timeoutMs?: number } = {}): Promise<Reply[]> {
  const window = options.window ?? 1000;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  const replies: Reply[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    let pending: Buffer = Buffer.alloc(0);
    let waiting: (() => void) | null = null;
    let failure: Error | null = null;
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let at = 0;
      for (;;) {
        const parsed = parseReply(pending, at);
        if (!parsed) break;
        replies.push(parsed.reply);
        at = parsed.next;
      }
      pending = pending.subarray(at);
      waiting?.();
    });
    socket.on('error', (err) => {
      failure = err;
      waiting?.();
    });
    socket.on('close', () => {
      failure ??= new Error('connection closed');
      waiting?.();
    });
    const deadline = Date.now() + timeoutMs;
    for (let start = 0; start < commands.length; start += window) {
      const batch = commands.slice(start, start + window);
      socket.write(Buffer.concat(batch.map(encodeCommand)));
      const target = start + batch.length;
      while (replies.length < target) {
        if (failure) throw failure;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for replies from 127.0.0.1:${port} (${replies.length}/${commands.length})`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 1000));
          waiting = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        waiting = null;
      }
    }
    return replies;
  } finally {
    socket.destroy();
  }
}
