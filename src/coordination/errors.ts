/** Errors of the fleet coordination (etcd). Mapped to HTTP 503 by the admin API. */
import { mapErrorCode } from '../admin/AdminServer';
import { KvstoreError } from '../errors';

/** etcd cannot be reached (or refused): the fleet cannot change its topology right now. */
export class CoordinationError extends KvstoreError {
  constructor(message: string) {
    super('E_COORDINATION', message);
  }
}

/** Every live proxy did not acknowledge an epoch in time: the next step of a change is not taken. */
export class BarrierTimeoutError extends KvstoreError {
  constructor(message: string) {
    super('E_BARRIER', message);
  }
}

mapErrorCode('E_COORDINATION', 503);
mapErrorCode('E_BARRIER', 504);
