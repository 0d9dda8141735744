/** Errors of the import job (admin status in parentheses, registered by adminRoutes.ts). */
import { KvstoreError } from '../errors';

/** The request conflicts with the job's state: one already runs, none runs, cutover too early (409). */
export class ImportStateError extends KvstoreError {
  constructor(message: string) {
    super('E_IMPORT_STATE', message);
  }
}

/** The source cannot be imported as asked: keys exist with onExisting=fail, CONFIG refused, ... (409). */
export class ImportSourceError extends KvstoreError {
  constructor(message: string) {
    super('E_IMPORT_SOURCE', message);
  }
}

/** Kvstore refused a write of the import (a shard down, a limit): the job fails with it. */
export class ImportWriteError extends KvstoreError {
  constructor(message: string) {
    super('E_IMPORT_WRITE', message);
  }
}

/** The import request is malformed (400). */
export class ImportRequestError extends KvstoreError {
  constructor(message: string) {
    super('E_BAD_REQUEST', message);
  }
}
