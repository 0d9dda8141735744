/**
 * The etcd client of a proxy: etcd3 (grpc-js) namespaced to the fleet's prefix, with short
 * deadlines on unary calls so that an unreachable etcd fails an admin call in seconds instead of
 * hanging it, and a capped watch backoff and member retry so that watches and calls resume within a
 * second of etcd's return.
 */
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen } from 'cockatiel';
import { Etcd3, isRecoverableError, Namespace } from 'etcd3';
import type { CoordinationConfig } from '../config/types';
import { CoordinationError } from './errors';

export interface EtcdHandle {
  client: Etcd3;
  /** The client restricted to the fleet's prefix. */
  ns: Namespace;
  endpoints: string[];
  close(): void;
}

/** Per unary call (get, put, txn, lease grant): etcd answers in milliseconds when it is up. */
const CALL_DEADLINE_MS = 2000;
/** A member whose calls failed is tried again after this long. */
const HOST_RETRY_AFTER_MS = 1000;

export function connectEtcd(config: CoordinationConfig['etcd']): EtcdHandle {
  const client = new Etcd3({
    hosts: config.endpoints.map((e) => `http://${e}`),
    auth: config.username ? { username: config.username, password: config.password } : undefined,
    dialTimeout: CALL_DEADLINE_MS,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
    // (etcd3's typings name an older cockatiel's IBackoff; the object is the same)
    faultHandling: {
      watchBackoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1000 }) as never,
      // etcd3 stops calling a member for 5 s after 3 failures: a proxy would then think etcd still
      // unreachable for seconds after it is back (while its peers already reach it): 1 s here.
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: HOST_RETRY_AFTER_MS, breaker: new ConsecutiveBreaker(3) }) as never,
    },
  });
  return {
    client,
    ns: client.namespace(config.prefix),
    endpoints: config.endpoints,
    close: () => client.close(),
  };
}

/** An etcd failure as one readable line for ctl and the logs. */
export function etcdFailure(endpoints: string[], what: string, err: unknown): CoordinationError {
  if (err instanceof CoordinationError) return err;
  const reason = (err as Error)?.message ?? String(err);
  return new CoordinationError(`etcd (${endpoints.join(', ')}) unreachable or failing: cannot ${what}: ${reason}`);
}
