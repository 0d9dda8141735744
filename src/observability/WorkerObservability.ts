/**
 * A worker's observability state: latency histograms per command, the SLOWLOG ring, hot-key
 * sampling and big keys, with the settings in force (slowlog.*, hotKeys.*, bigKeys.*; live on
 * reload). The data path touches it at three points, each a few loads and compares:
 * - per read: `readAt` (one clock read per batch) and, while SLOWLOG is on, the request log copy;
 * - per command: the hot-key countdown and the big-request compare (Dispatcher);
 * - per reply: one histogram increment (unless latencyTracking is off), the slow and big
 *   compares (ClientReplies).
 * Everything else (sampling, slow entries, big keys, logging) happens only for the commands
 * that are sampled, slow or big. A slow command costs a few field writes in a reused SLOWLOG
 * slot; its request is copied only if the entry is still in the ring when the client's request
 * log needs the room, and decoded only when the entry is read (under overload most commands can
 * be slow). Workers' data reaches the primary with their stats.
 */
import type { KvstoreConfig } from '../config/types';
import type { Logger } from '../log';
import { BigKey, BigKeys } from './BigKeys';
import { HotKey, HotKeys } from './HotKeys';
import { HistogramSnapshot, LatencyHistograms } from './LatencyHistograms';
import type { RequestLog } from './RequestLog';
import { SlowLog } from './SlowLog';

/**
 * What a worker sends to the primary with its stats (every second, and for GET /stats). No
 * SLOWLOG entries: up to maxLen decoded requests per message, read only by GET /slowlog, which
 * asks the workers when it is called (ObservabilityQuery.ts through the primary's relay).
 */
export interface ObservabilityStats {
  latency: HistogramSnapshot;
  hotKeys: HotKey[];
  bigKeys: BigKey[];
}

export class WorkerObservability {
  readonly histograms: LatencyHistograms;
  readonly slowlog: SlowLog;
  readonly hotKeys: HotKeys;
  readonly bigKeys: BigKeys;
  /** slowlog.slowerThanUs; -1 = off (then no request log is kept). */
  slowerThanUs: number;
  /** bigKeys.bytes; 0 = off (compared as "never": Infinity). */
  bigBytes: number;
  /** latencyTracking: replies are counted in the histograms. */
  tracksLatency: boolean;
  private readonly timer: NodeJS.Timeout;

  constructor(
    config: KvstoreConfig,
    commandCount: number,
    private readonly log: Logger,
    /** Makes SLOWLOG ids unique across workers (id = sequence * 1024 + worker). */
    workerIndex = 0,
  ) {
    this.histograms = new LatencyHistograms(commandCount);
    this.slowlog = new SlowLog(config.slowlog.maxLen, 1024, workerIndex % 1024);
    this.hotKeys = new HotKeys(config.hotKeys.sampleRate, config.hotKeys.hitsPerSec, 256, Date.now(), Math.random, (h) =>
      log.warn({ key: h.key, hitsPerSec: h.hitsPerSec, threshold: this.hotKeys.hitsPerSec }, 'hot key'),
    );
    this.bigKeys = new BigKeys(config.bigKeys.bytes, 128, (b) =>
      log.warn({ key: b.key, slot: b.slot, command: b.command, kind: b.kind, bytes: b.bytes, client: b.client }, 'big key'),
    );
    this.slowerThanUs = config.slowlog.slowerThanUs;
    this.bigBytes = config.bigKeys.bytes > 0 ? config.bigKeys.bytes : Infinity;
    this.tracksLatency = config.latencyTracking;
    this.timer = setInterval(() => this.hotKeys.tick(), 1000).unref();
  }

  applyConfig(config: KvstoreConfig): void {
    this.slowerThanUs = config.slowlog.slowerThanUs;
    this.slowlog.setMaxLen(config.slowlog.maxLen);
    this.hotKeys.reconfigure(config.hotKeys.sampleRate, config.hotKeys.hitsPerSec);
    this.bigKeys.bytes = config.bigKeys.bytes;
    this.bigBytes = config.bigKeys.bytes > 0 ? config.bigKeys.bytes : Infinity;
    this.tracksLatency = config.latencyTracking;
  }

  get keepsRequests(): boolean {
    return this.slowerThanUs >= 0;
  }

  /**
   * A slow command: its request's bytes stay in the client's request log until the log needs
   * the room (then copied, if the entry is still in the ring), decoded only if the entry is read;
   * named only when the log did not keep them. No clock read: the time is the read batch's.
   */
  slow(durationUs: number, command: string, log: RequestLog | null, ref: number, client: string, clientName: string, nowMs: number): void {
    this.slowlog.addRequest(durationUs, log, ref, command, client, clientName, nowMs);
  }

  stats(): ObservabilityStats {
    return { latency: this.histograms.snapshot(), hotKeys: this.hotKeys.list(), bigKeys: this.bigKeys.list() };
  }

  close(): void {
    clearInterval(this.timer);
  }
}
