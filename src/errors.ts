/**
 * Typed errors. Every error Kvstore raises on purpose is a KvstoreError with a stable `code`
 * (for logs, metrics and tests) and, where a client sees it, the exact RESP error line.
 */
export class KvstoreError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The configuration is invalid; the message says what to change. */
export class ConfigError extends KvstoreError {
  constructor(message: string) {
    super('E_CONFIG', message);
  }
}

/** A client broke the RESP protocol; only that client is closed. */
export class ProtocolError extends KvstoreError {
  constructor(message: string) {
    super('E_PROTOCOL', message);
  }
}

/** A backend redis-server could not be reached or answered badly. */
export class BackendError extends KvstoreError {
  constructor(message: string, readonly shard?: string, readonly address?: string, code = 'E_BACKEND') {
    super(code, message);
  }
}

/**
 * A redis-server (or Sentinel) answered with an error reply (`-ERR ...`): it is reachable, the
 * command failed. `reply` is the error line without the leading '-'.
 */
export class RedisReplyError extends BackendError {
  constructor(readonly reply: string, address?: string) {
    super(reply, undefined, address, 'E_REPLY');
  }
}

/** A topology change was refused (unknown shard, overlapping job, ...). */
export class TopologyError extends KvstoreError {
  constructor(message: string) {
    super('E_TOPOLOGY', message);
  }
}

/** The native addon could not be loaded (the TypeScript reference takes over). */
export class NativeLoadError extends KvstoreError {
  constructor(message: string) {
    super('E_NATIVE_LOAD', message);
  }
}
