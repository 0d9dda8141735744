/**
 * WAIT numreplicas timeout, answered by the proxy. A client's writes reach each shard on the
 * proxy's shared connections, whose WAIT would block every client sharing them, and whose
 * replication offset is not this client's. So, per shard this client wrote to since its last
 * WAIT (in parallel):
 *   1. a PING on the client's own shared connection to that shard: once answered, every earlier
 *      write of the client there has been applied (one connection is served in order);
 *   2. on a dedicated connection, `PUBLISH __kvstore:wait ""` then `WAIT numreplicas timeout`.
 *      PUBLISH is propagated to replicas (Redis 7.0, not in cluster mode), so the dedicated
 *      connection's own replication offset is the master's offset after the client's writes,
 *      and Redis's WAIT (which asks the replicas for acks at once) counts the replicas that
 *      acknowledged it, waiting at most `timeout` ms (0 = until enough replicas do).
 * The reply is the minimum over those shards. With no write since the last WAIT it is the
 * minimum over all shards of the replicas connected (as Redis answers a client that wrote
 * nothing: every replica has acknowledged offset 0).
 */
import { encodeCommand } from '../../resp';
import type { TimerHandle } from '../Clock';
import type { ProxyContext } from '../ProxyContext';
import { errorReply, integerReply, isErrorReply } from '../Resp';
import type { DedicatedHolder, DedicatedPool } from './DedicatedPool';
import type { SessionClient } from './types';
import type { DedicatedConnection } from './DedicatedConnection';

const PING = encodeCommand(['PING']);
const MARK = encodeCommand(['PUBLISH', '__kvstore:wait', '']);

export function runWait(
  client: SessionClient,
  ctx: ProxyContext,
  pool: DedicatedPool,
  holder: DedicatedHolder,
  numReplicas: number,
  timeoutMs: number,
  done: (reply: Buffer) => void,
): void {
  const router = ctx.router;
  const written = client.takeWrittenShards().filter((s) => s < router.shards.length);
  const wroteNothing = written.length === 0;
  const shards = wroteNothing ? router.shards.map((s) => s.index).filter((i) => router.shards[i].downReply === null) : written;
  if (shards.length === 0) return done(integerReply(0));
  const waitCommand = encodeCommand(wroteNothing ? ['WAIT', '0', '0'] : ['WAIT', String(numReplicas), String(timeoutMs)]);
  let left = shards.length;
  let min = Infinity;
  let firstError: Buffer | null = null;
  const leased: DedicatedConnection[] = [];
  let timer: TimerHandle | null = null;
  const finish = (reply: Buffer): void => {
    if (isErrorReply(reply)) firstError ??= Buffer.from(reply);
    else min = Math.min(min, Number(reply.toString('latin1', 1, reply.length - 2)));
    if (--left > 0) return;
    if (timer !== null) pool.clock.clearTimer(timer);
    done(firstError ?? integerReply(min));
  };
  if (timeoutMs > 0 && !wroteNothing) {
    // Redis answers at `timeout`; give up (with an error) only requestMs after that.
    timer = pool.clock.setTimeout(() => {
      timer = null;
      for (const c of leased) c.fail('did not answer WAIT in time');
    }, timeoutMs + ctx.config.timeouts.requestMs);
  }
  for (const shard of shards) {
    const route = router.shards[shard];
    const onDedicated = (): void => {
      const conn = pool.acquire(route, holder);
      if (Buffer.isBuffer(conn)) return finish(conn);
      leased.push(conn);
      if (!wroteNothing) conn.sendQuiet(MARK);
      conn.send(waitCommand, {
        onReply(_tag, reply) {
          pool.release(conn, conn.open);
          finish(reply);
        },
      }, 0);
    };
    if (wroteNothing) onDedicated();
    else {
      client.forwardTo(shard, PING, 0, {
        onReply(_tag, reply) {
          if (isErrorReply(reply)) return finish(reply);
          onDedicated();
        },
      });
    }
  }
}

export const WAIT_TIMED_OUT = errorReply('ERR Kvstore: WAIT got no answer from a shard in time');
