/**
 * Where the workers listen for clients when the config says `listen.port: 0` (any free port, as
 * tests do to avoid races between picking a port and binding it). Every worker must serve the
 * same port, and a restarted worker the port clients already use, so the first port a worker
 * gets is kept and handed to the next ones:
 * - workers sharing node:cluster's listening socket (today's default): the primary creates one
 *   socket per distinct (host, port) a worker asks for, so while another worker listens a new
 *   one asks for port 0 again and joins the same socket; only when none is left (a single worker
 *   restarting) does it ask for the known port explicitly, since the shared socket closed with
 *   the last worker;
 * - workers binding their own socket (SO_REUSEPORT): the first worker binds port 0 alone, the
 *   others start after it and bind the port it got (`fixedByFirstWorker`).
 * With a fixed port this is a pass-through.
 */
export interface ListenAddress {
  host: string;
  port: number;
}

export class ListenPort {
  private actual?: ListenAddress;

  constructor(
    private readonly configured: ListenAddress,
    /** false when every worker binds its own socket (SO_REUSEPORT) instead of node:cluster's shared one. */
    readonly sharedByCluster = true,
  ) {}

  /** The address clients connect to, once a worker listens. */
  get address(): ListenAddress | undefined {
    return this.actual;
  }

  /** True while the first worker must bind alone (port 0, own sockets, no port known yet). */
  get fixedByFirstWorker(): boolean {
    return this.configured.port === 0 && !this.sharedByCluster && this.actual === undefined;
  }

  /** The address a worker being forked should listen on. */
  forWorker(othersListening: boolean): ListenAddress {
    if (this.configured.port !== 0 || !this.actual) return { ...this.configured };
    if (this.sharedByCluster && othersListening) return { ...this.configured };
    return { host: this.configured.host, port: this.actual.port };
  }

  /** A worker reports the address it listens on; the first one fixes the port. */
  bound(address: ListenAddress): void {
    if (!this.actual) this.actual = { ...address };
  }
}
