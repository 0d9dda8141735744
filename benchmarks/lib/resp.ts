/**
 * The suite's own RESP needs: fill the keyspace through each system before the GET/MGET runs and
 * check that every system answers the benchmark commands correctly (an error reply would
 * otherwise be counted as a fast, successful request by redis-benchmark). Built on the shared
 * client (src/resp/); bulk strings come back as text.
 */
import type tls from 'node:tls';
import { RedisReplyError, RespClient, RespValue } from '../../src/resp';

/** A reply; an error reply is a RedisReplyError value. */
export type Reply = RespValue;

export interface PipelineOptions {
  window?: number;
  timeoutMs?: number;
  /** connect over TLS with these options (a TLS port) */
  tls?: tls.ConnectionOptions;
}

/**
 * Send all commands pipelined in windows of `window` commands and return every reply in order.
 * Bounded by `timeoutMs` overall; a connection failure or the timeout throws.
 */
export async function pipeline(port: number, commands: Array<Array<string | Buffer>>, options: PipelineOptions = {}): Promise<Reply[]> {
  const window = options.window ?? 1000;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const client = new RespClient(`127.0.0.1:${port}`, { strings: true, reconnect: false, ...(options.tls ? { tls: options.tls } : {}) });
  const replies: Reply[] = [];
  try {
    for (let start = 0; start < commands.length; start += window) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for replies from 127.0.0.1:${port} (${replies.length}/${commands.length})`);
      for (const reply of await client.pipeline(commands.slice(start, start + window), left)) {
        if (reply instanceof Error && !(reply instanceof RedisReplyError)) throw reply;
        replies.push(reply as Reply);
      }
    }
    return replies;
  } finally {
    client.close();
  }
}
