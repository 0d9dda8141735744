/**
 * The primary's side of key rewrite: add / remove / list rules in the persisted topology, and
 * return only once every worker routes with the new rules (so no request accepted after the
 * admin call sees the old generation). Also owns the optional reclaim job.
 *
 * Generations: `add` sets the rule's generation to the epoch of the topology change that adds it.
 * Epochs only grow and are persisted, so a re-added pattern always gets a generation higher than
 * every generation ever used, even after remove + add or a restart; that is what makes
 * "highest matching generation" (KeyRewriter) drop the family on every add.
 */
import { KvstoreError } from '../errors';
import { createLogger } from '../log';
import type { KeyRewriteRule, TopologySnapshot } from '../topology/types';
import { AsyncLock } from './AsyncLock';
import { SlotFunction, SlotTagTable } from './derivedName';
import { ReclaimJob, ReclaimOptions, ReclaimStatus } from './ReclaimJob';

const log = createLogger('keyrewrite-admin');

/** A key-rewrite request was refused (bad pattern, unknown pattern). */
export class KeyRewriteError extends KvstoreError {
  constructor(message: string, readonly status = 400) {
    super('E_KEY_REWRITE', message);
  }
}

export const MAX_PATTERN_BYTES = 1024;
export const MAX_RULES = 256;

export interface KeyRewriteAdminOptions {
  /** The current topology (the primary's TopologyStore snapshot). */
  snapshot: () => TopologySnapshot;
  /**
   * Apply a change: persist it (epoch bumped) and resolve once every worker acknowledged the new
   * epoch (Supervisor.updateTopology). Rejects if a worker cannot be brought up to date.
   */
  updateTopology: (mutate: (draft: TopologySnapshot) => void) => Promise<TopologySnapshot>;
  /** The cluster's key → slot function (configured hash, hash tags honoured). */
  slotOf: SlotFunction;
  backendAuth?: { username?: string; password?: string };
}

export interface RuleChange {
  pattern: string;
  generation?: number;
  epoch: number;
  rules: KeyRewriteRule[];
}

export function validatePattern(pattern: unknown): string {
  if (typeof pattern !== 'string' || pattern.length === 0) throw new KeyRewriteError('pattern must be a non-empty string');
  if (Buffer.byteLength(pattern) > MAX_PATTERN_BYTES) throw new KeyRewriteError(`pattern is longer than ${MAX_PATTERN_BYTES} bytes`);
  return pattern;
}

export class KeyRewriteAdmin {
  readonly lock = new AsyncLock();
  readonly reclaim: ReclaimJob;
  private table: SlotTagTable | undefined;

  constructor(private readonly opts: KeyRewriteAdminOptions) {
    this.reclaim = new ReclaimJob(opts.snapshot, opts.slotOf, () => this.tagTable(), this.lock, opts.backendAuth);
  }

  private tagTable(): SlotTagTable {
    if (!this.table) this.table = SlotTagTable.build(this.opts.slotOf);
    return this.table;
  }

  list(): KeyRewriteRule[] {
    return structuredClone(this.opts.snapshot().keyRewrite ?? []);
  }

  /** Add a pattern, or bump its generation when present: the matching keys are dropped. */
  add(patternInput: unknown): Promise<RuleChange> {
    const pattern = validatePattern(patternInput);
    return this.change(pattern, (rules, epoch) => {
      const existing = rules.find((r) => r.pattern === pattern);
      if (existing) existing.generation = epoch;
      else {
        if (rules.length >= MAX_RULES) throw new KeyRewriteError(`at most ${MAX_RULES} key-rewrite patterns`);
        rules.push({ pattern, generation: epoch });
      }
      return rules;
    });
  }

  /** Remove a pattern: the keys it hid (that no other rule matches) are visible again. */
  remove(patternInput: unknown): Promise<RuleChange> {
    const pattern = validatePattern(patternInput);
    return this.change(pattern, (rules) => {
      const next = rules.filter((r) => r.pattern !== pattern);
      if (next.length === rules.length) throw new KeyRewriteError(`no key-rewrite pattern ${JSON.stringify(pattern)}`, 404);
      return next;
    });
  }

  startReclaim(options: Partial<ReclaimOptions> = {}): ReclaimStatus {
    return this.reclaim.start(options);
  }

  reclaimStatus(): ReclaimStatus {
    return this.reclaim.current;
  }

  /**
   * One change at a time, excluding reclaim batches: persist (the epoch is bumped and the file
   * written before workers hear of it), then wait for every worker's ack.
   */
  private change(pattern: string, edit: (rules: KeyRewriteRule[], epoch: number) => KeyRewriteRule[]): Promise<RuleChange> {
    return this.lock.run(async () => {
      const next = await this.opts.updateTopology((draft) => {
        draft.keyRewrite = edit(draft.keyRewrite ?? [], draft.epoch + 1);
      });
      const rule = next.keyRewrite.find((r) => r.pattern === pattern);
      log.info({ pattern, generation: rule?.generation, epoch: next.epoch, rules: next.keyRewrite.length }, rule ? 'key-rewrite pattern added' : 'key-rewrite pattern removed');
      return { pattern, generation: rule?.generation, epoch: next.epoch, rules: structuredClone(next.keyRewrite) };
    });
  }
}
