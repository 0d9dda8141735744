/**
 * The typed arrays a HotPath writes into, allocated once per HotPath instance (so once per
 * worker) and shared by every connection: the worker is single-threaded and results are consumed
 * synchronously after each call. Several ProxyServers in one process (tests) share the arrays
 * and re-bind their own slot table before a split.
 */
import {
  ARG_STRIDE,
  CMD_STRIDE,
  HotPath,
  KEY_STRIDE,
  PLAN_HEADER,
  PLAN_KEY_STRIDE,
  PLAN_SUB_STRIDE,
  R_STATUS_LEN,
  RequestBatch,
  STATUS_LEN,
} from '../native/api';

export interface EngineOptions {
  maxBulkBytes: number;
  maxInlineBytes: number;
  hash: 'crc16' | 'murmur';
  murmurSeed: number;
}

const MAX_CMDS = 1024;
const INITIAL_ARGS = 16384;
const INITIAL_KEYS = 8192;
const MAX_REPLIES = 4096;
const MAX_SUBS = 1024;

export class HotPathBinding {
  readonly batch: RequestBatch;
  readonly replyEnds = new Int32Array(MAX_REPLIES);
  readonly replyStatus = new Int32Array(R_STATUS_LEN);
  plan: Int32Array;
  private boundTable: Uint16Array | null = null;
  private configured: object | null = null;

  private constructor(readonly hot: HotPath) {
    this.batch = {
      cmds: new Int32Array(MAX_CMDS * CMD_STRIDE),
      args: new Int32Array(INITIAL_ARGS * ARG_STRIDE),
      keys: new Int32Array(INITIAL_KEYS * KEY_STRIDE),
      status: new Int32Array(STATUS_LEN),
    };
    this.plan = new Int32Array(planLength(INITIAL_ARGS));
    this.bind();
  }

  private static readonly bindings = new WeakMap<HotPath, HotPathBinding>();

  static for(hot: HotPath): HotPathBinding {
    let binding = HotPathBinding.bindings.get(hot);
    if (!binding) {
      binding = new HotPathBinding(hot);
      HotPathBinding.bindings.set(hot, binding);
    }
    return binding;
  }

  private bind(): void {
    this.hot.bindBatch(this.batch, this.replyEnds, this.replyStatus, this.plan);
  }

  /** One command has more arguments than `args` holds: grow (rare; huge MSET/MGET) and re-bind. */
  growArgs(needed: number): void {
    let cap = this.batch.args.length / ARG_STRIDE;
    while (cap < needed) cap *= 2;
    this.batch.args = new Int32Array(cap * ARG_STRIDE);
    if (this.batch.keys.length / KEY_STRIDE < cap) this.batch.keys = new Int32Array(cap * KEY_STRIDE);
    this.plan = new Int32Array(planLength(cap));
    this.bind();
  }

  /** Bind `table` as the slot table unless it already is (split groups keys by it). */
  useSlotTable(table: Uint16Array): void {
    if (this.boundTable === table) return;
    this.hot.bindSlotTable(table);
    this.boundTable = table;
  }

  /** Apply engine settings unless this very object is already applied (checked per read). */
  useEngineOptions(options: EngineOptions): void {
    if (this.configured === options) return;
    this.hot.configure(options);
    this.configured = options;
  }
}

function planLength(maxKeys: number): number {
  return PLAN_HEADER + MAX_SUBS * PLAN_SUB_STRIDE + maxKeys * PLAN_KEY_STRIDE;
}
