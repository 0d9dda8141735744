/**
 * The data path on fake streams and a fake clock, for unit tests of branches that only real
 * servers reach otherwise (a backend that answers garbage, a FIN mid-reply, congestion, idle
 * timeouts...):
 *
 *   const kv = fakeProxy(t, { shards: 2 });
 *   const c = kv.client();                   // a ClientConnection on a FakeStream
 *   c.deliver('*2\r\n$3\r\nGET\r\n$1\r\na\r\n');
 *   kv.backend(1).connected();               // the backend connection is established
 *   kv.backend(1).deliver('$1\r\nx\r\n');     // shard 1 answers
 *   t.is(c.takeSent(), '$1\r\nx\r\n');        // exactly what the client got
 *
 * Every delivery runs inside a read batch (FlushScheduler.readBatch), as the native streams do, so
 * what it causes is written before `deliver` returns. Nothing here opens a socket.
 */
import pino from 'pino';
import type { KvstoreConfig } from '../../src/config/types';
import type { Clock, TimerHandle } from '../../src/proxy/Clock';
import type { ClientConnection } from '../../src/proxy/ClientConnection';
import type { ConnectStream } from '../../src/proxy/DataPathIo';
import { readBatch } from '../../src/proxy/FlushScheduler';
import type { ByteStream, StreamHandler } from '../../src/proxy/io';
import { ProxyServer } from '../../src/proxy/ProxyServer';
import { evenTopology, testConfig, TestContextLike } from './proxy';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

interface FakeTimer {
  at: number;
  every: number | null;
  fn: () => void;
}

/** Time moves only when the test says so; due timers run in time order. */
export class FakeClock implements Clock {
  time = 1_700_000_000_000;
  private readonly timers = new Set<FakeTimer>();

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { at: this.time + ms, every: null, fn };
    this.timers.add(timer);
    return timer as unknown as TimerHandle;
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { at: this.time + ms, every: Math.max(1, ms), fn };
    this.timers.add(timer);
    return timer as unknown as TimerHandle;
  }

  clearTimer(timer: TimerHandle): void {
    this.timers.delete(timer as unknown as FakeTimer);
  }

  /** Move time forward by `ms`, running every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let next: FakeTimer | null = null;
      for (const t of this.timers) if (t.at <= end && (next === null || t.at < next.at)) next = t;
      if (next === null) break;
      this.time = next.at;
      if (next.every === null) this.timers.delete(next);
      else next.at += next.every;
      next.fn();
    }
    this.time = end;
  }

  get pendingTimers(): number {
    return this.timers.size;
  }
}

/** A ByteStream whose peer is the test: what the proxy writes is recorded, what it reads is delivered. */
export class FakeStream implements ByteStream {
  readonly kind = 'node';
  queued = 0;
  /** Bytes the peer has received (flushed and taken by the "kernel"). */
  private sent: Buffer[] = [];
  /** Appended since the last flush. */
  private output: Buffer[] = [];
  /** Flushed but not taken while congested (`queued` counts these and the unflushed output). */
  private held: Buffer[] = [];
  paused = false;
  ended = false;
  destroyed = false;
  isConnected = false;
  /** While true the "kernel" takes nothing: flush reports the bytes as still queued. */
  congested = false;
  idleMs = 0;
  private lastActive = 0;
  private idleTimer: TimerHandle | null = null;
  flushes = 0;

  constructor(
    private handler: StreamHandler,
    private readonly clock: FakeClock,
    readonly remote: string,
  ) {}

  /* ---------- ByteStream (the proxy's side) ---------- */

  attach(handler: StreamHandler): void {
    this.handler = handler;
  }

  append(data: Buffer, start = 0, end = data.length): void {
    if (this.destroyed || end <= start) return;
    this.output.push(Buffer.from(data.subarray(start, end))); // copies, as the real streams do
    this.queued += end - start;
  }

  flush(): number {
    if (this.destroyed) return 0;
    this.flushes++;
    const out = this.output;
    this.output = [];
    if (out.length > 0) this.lastActive = this.clock.now();
    if (this.congested) {
      this.held.push(...out);
    } else {
      this.sent.push(...out);
      for (const b of out) this.queued -= b.length;
    }
    return this.queued;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  end(): void {
    this.flush();
    this.ended = true;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.stopIdleTimer();
    this.handler.onStreamClose(null);
  }

  setIdleTimeout(ms: number): void {
    this.idleMs = ms > 0 ? ms : 0;
    this.stopIdleTimer();
    if (this.idleMs === 0) return;
    this.lastActive = this.clock.now();
    // Like the native streams' sweep: checked periodically, fires once per idle period.
    this.idleTimer = this.clock.setInterval(() => {
      const now = this.clock.now();
      if (now - this.lastActive < this.idleMs) return;
      this.lastActive = now;
      this.handler.onStreamTimeout();
    }, Math.max(1, Math.floor(this.idleMs / 4)));
  }

  private stopIdleTimer(): void {
    if (this.idleTimer !== null) this.clock.clearTimer(this.idleTimer);
    this.idleTimer = null;
  }

  /* ---------- the peer's side (the test) ---------- */

  /** The peer sends `bytes` (delivered as one read, inside a read batch). */
  deliver(bytes: Buffer | string): void {
    const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    this.lastActive = this.clock.now();
    // A view into a larger buffer, as reads are: the proxy must not keep it past the call.
    const arena = Buffer.alloc(buf.length + 16, 0xee);
    buf.copy(arena, 8);
    readBatch(() => this.handler.onStreamData(arena, 8, 8 + buf.length), 1);
    arena.fill(0xdd); // what the proxy kept as a view now reads as garbage
  }

  /** An outgoing connection is established. */
  connected(): void {
    this.isConnected = true;
    readBatch(() => this.handler.onStreamConnect(), 0);
  }

  /** The peer half-closes (FIN). */
  peerEnd(): void {
    readBatch(() => this.handler.onStreamEnd(), 0);
  }

  /** The connection is gone (reset by the peer: `error` like ECONNRESET). */
  peerClose(error: string | null = 'ECONNRESET'): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.stopIdleTimer();
    readBatch(() => this.handler.onStreamClose(error), 0);
  }

  /** The kernel took what was held: drain follows. */
  drain(): void {
    this.congested = false;
    this.sent.push(...this.held);
    this.held = [];
    this.queued = 0;
    readBatch(() => this.handler.onStreamDrain(), 0);
  }

  /** Everything the peer received since the last call (latin1: one char per byte). */
  takeSent(): string {
    const text = Buffer.concat(this.sent).toString('latin1');
    this.sent = [];
    return text;
  }
}

/** Backend connections on fake streams: one list of streams per "host:port". */
export class FakeBackends {
  readonly streams = new Map<string, FakeStream[]>();

  constructor(private readonly clock: FakeClock) {}

  readonly connect: ConnectStream = (host, port, handler) => {
    const address = `${host}:${port}`;
    const stream = new FakeStream(handler, this.clock, address);
    const list = this.streams.get(address) ?? [];
    list.push(stream);
    this.streams.set(address, list);
    return stream;
  };

  /** The newest stream to `address`. */
  latest(address: string): FakeStream {
    const list = this.streams.get(address);
    if (!list || list.length === 0) throw new Error(`no connection to ${address} was opened`);
    return list[list.length - 1];
  }
}

/** Let the turn end: flushes scheduled outside a read batch run in setImmediate. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface FakeProxy {
  proxy: ProxyServer;
  clock: FakeClock;
  backends: FakeBackends;
  /** The shards' addresses (never connected for real). */
  addresses: string[];
  config: KvstoreConfig;
  /** A new client connection on a fake stream. */
  client(): FakeStream & { connection: ClientConnection };
  /** The newest backend connection to shard `i`. */
  backend(i: number): FakeStream;
}

let nextClientPort = 40000;

export function fakeProxy(t: TestContextLike, options: { shards?: number; config?: DeepPartial<KvstoreConfig> } = {}): FakeProxy {
  const clock = new FakeClock();
  const backends = new FakeBackends(clock);
  // Loopback addresses that are never dialled: connect is the fake one.
  const addresses = Array.from({ length: options.shards ?? 2 }, (_, i) => `127.0.0.1:${i + 1}`);
  const topology = evenTopology(addresses);
  // No idle dedicated connections unless asked (src/proxy/dedicated/): `backend(i)` is the shared one.
  const config = testConfig({ dedicated: { idlePerShard: 0 }, ...options.config, shards: topology.shards.map((s) => ({ name: s.name, master: s.master, replicas: [] })) });
  const proxy = new ProxyServer({ config, topology, logger: pino({ level: 'silent' }), io: { connect: backends.connect, clock } });
  t.teardown(() => proxy.close(0));
  return {
    proxy,
    clock,
    backends,
    addresses,
    config,
    client() {
      let stream: FakeStream | null = null;
      const connection = proxy.attachClient((handler) => (stream = new FakeStream(handler, clock, `127.0.0.1:${nextClientPort++}`)));
      return Object.assign(stream!, { connection });
    },
    backend(i) {
      return backends.latest(addresses[i]);
    },
  };
}
