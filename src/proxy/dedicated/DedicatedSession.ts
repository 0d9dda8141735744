/**
 * The connection states of one client that need a backend connection of their own: a
 * transaction (WATCH / MULTI ... EXEC), a blocking command, and WAIT. The client connection
 * hands a command here when its route is `dedicated` or while a session is active; the session
 * answers it, sends it on its dedicated connection, or says "route it as usual".
 *
 * Transactions follow Redis Cluster: MULTI is answered here and the shard is chosen by the
 * first keyed command (or WATCH); every later key (and every watched key) must be in that slot
 * (`crossSlot: shard`: on that shard). A command that breaks the rule, or that the proxy cannot
 * queue on one shard, is answered with its error at queue time and marks the transaction, whose
 * EXEC then answers -EXECABORT, as Redis does for queue-time errors. Keyless commands queued
 * before any key chose the shard are kept here (answered +QUEUED) and replayed once it is chosen.
 * Every reply of a shard reaches the client byte for byte, so a connection speaks the client's
 * protocol: leased in it (DedicatedPool keeps RESP3 connections apart), and switched with
 * `speak` before the next command when the client sent HELLO while holding one (WATCH state);
 * a HELLO inside MULTI is queued as a stand-in and run by the proxy at EXEC (helloInMulti.ts).
 *
 * A blocking command holds the client (its later commands run after the reply, as on Redis)
 * and waits on a dedicated connection; the proxy gives up `timeouts.requestMs` after the
 * command's own timeout. A client that goes away while blocked closes that connection, so
 * the redis-server unblocks it.
 */
import { SLOT_CROSS, SLOT_NONE } from '../../native/api';
import { FENCED_SHARD, NO_SHARD } from '../../topology/slots';
import { encodeCommand } from '../../resp';
import type { CommandRoute } from '../CommandRoutes';
import { Route } from '../CommandRoutes';
import type { TimerHandle } from '../Clock';
import type { ProxyContext } from '../ProxyContext';
import { ERRORS } from '../ReplyTexts';
import { isErrorReply, OK } from '../Resp';
import { blockingTimeoutMs, xreadBlockIndex } from './blockingArgs';
import { Kind, KIND_OF } from './commandKinds';
import type { DedicatedConnection } from './DedicatedConnection';
import type { DedicatedHolder, DedicatedPool } from './DedicatedPool';
import { Outcome, SessionClient, SessionCommand, UnblockTarget } from './types';
import { blockTimedOut, execAbortFailed, execAbortMoved, migratingNow, movedWhileBlocked, notInTransaction, TXN } from './texts';
import { clientKill, clientUnblock } from './clientControl';
import { runWait } from './wait';
import { execReplyWithHellos, protoAfter, QueuedHello, standIn } from './helloInMulti';
import { errorReply } from '../ErrorReply';

const MULTI = encodeCommand(['MULTI']);
const DISCARD = encodeCommand(['DISCARD']);
const UNWATCH = encodeCommand(['UNWATCH']);
const ONE = Buffer.from(':1\r\n');
const EXEC_UNREADABLE = errorReply("ERR Kvstore: could not read EXEC's reply to put HELLO's in it; its connection was closed");
/**
 * A blocked command whose slot moved is unblocked with CLIENT UNBLOCK; `:0` means it had not
 * reached the server yet (or was being answered): asked again this often while it is still
 * blocked, at most this many times, then its connection is closed.
 */
const UNBLOCK_RETRY_MS = 50;
const UNBLOCK_TRIES = 40;

/** Proxy-answered commands a shard can queue as they are (same reply inside EXEC). */
const QUEUEABLE_PROXY = new Set(['ping', 'echo', 'time', 'command', 'command|count', 'command|info', 'command|docs', 'command|list', 'command|getkeys', 'command|getkeysandflags', 'command|help']);

interface Blocked {
  conn: DedicatedConnection;
  /** Leased for this command alone (else it is the transaction's connection). */
  own: boolean;
  shard: number;
  slot: number;
  timer: TimerHandle | null;
  /** The slot moved: the proxy unblocked it on the server and answers TRYAGAIN instead. */
  moved: boolean;
}

export class DedicatedSession implements DedicatedHolder, UnblockTarget {
  dedicatedHeld = 0;

  private inMulti = false;
  /** Commands queued since MULTI (CLIENT LIST `multi=`): what the shard queues, replayed ones included. */
  private queued = 0;
  /** A queue-time error: EXEC answers -EXECABORT. */
  private flagged = false;
  private watching = false;
  private txConn: DedicatedConnection | null = null;
  private txShard = -1;
  private txSlot = -1;
  /** Keyless commands queued before the shard was chosen (copies). */
  private pre: Buffer[] = [];
  /** Set when a slot of the transaction moved: EXEC fails with it. */
  private txMoved: string | null = null;
  /** HELLOs queued since MULTI (null: none), run by the proxy at EXEC (helloInMulti.ts). */
  private hellos: QueuedHello[] | null = null;

  blocked: Blocked | null = null;
  waiting = false;
  private closed = false;

  constructor(
    private readonly client: SessionClient,
    private readonly ctx: ProxyContext,
    private readonly pool: DedicatedPool,
  ) {}

  /** Nothing held: the client may drop this session. */
  get idle(): boolean {
    return !this.inMulti && !this.watching && this.txConn === null && this.blocked === null && !this.waiting && this.dedicatedHeld === 0;
  }

  /** Commands queued since MULTI, -1 outside one (Redis's `multi=` in CLIENT LIST). */
  get multiQueued(): number {
    return this.inMulti ? this.queued : -1;
  }

  /** Blocked or in WAIT: the client's later commands wait. */
  get holding(): boolean {
    return this.blocked !== null || this.waiting;
  }

  /**
   * Must `route` wait until the client's earlier commands are answered? Yes for everything that
   * runs on a dedicated connection, MULTI included; no inside MULTI: MULTI waited, so what is in
   * flight then is on the transaction's own connection (in order) or answered by the proxy.
   */
  needsBarrier(route: CommandRoute): boolean {
    return !this.inMulti && KIND_OF[route.id] !== Kind.None;
  }

  /** The dispatcher refused a command (unknown, arity): inside MULTI, EXEC will abort. */
  queueError(): void {
    if (this.inMulti) this.flagged = true;
  }

  dispatch(cmd: SessionCommand): Outcome {
    const kind = KIND_OF[cmd.route.id] as Kind;
    if (this.inMulti) return this.inTransaction(cmd, kind);
    switch (kind) {
      case Kind.Multi:
        if (this.txConn !== null) this.onTx().sendQuiet(MULTI);
        this.inMulti = true;
        this.queued = 0;
        this.flagged = false;
        this.replyNow(cmd, OK);
        return Outcome.Handled;
      case Kind.Exec:
        this.replyNow(cmd, TXN.execWithoutMulti);
        return Outcome.Handled;
      case Kind.Discard:
        this.replyNow(cmd, TXN.discardWithoutMulti);
        return Outcome.Handled;
      case Kind.Watch:
        return this.watch(cmd);
      case Kind.Unwatch:
        return this.unwatch(cmd);
      case Kind.Blocking:
        return this.block(cmd);
      case Kind.Wait:
        return this.wait(cmd);
      case Kind.ClientUnblock:
        clientUnblock(this.client, this.pool, this.ctx, cmd.args(), this.client.reserve(cmd.route.id));
        return Outcome.Handled;
      case Kind.ClientKill:
        clientKill(this.client, this.ctx, cmd.args(), this.client.reserve(cmd.route.id));
        return Outcome.Handled;
      default:
        break;
    }
    if (cmd.route.name === 'reset') {
      this.reset();
      return Outcome.Normal;
    }
    // WATCH state: commands on the watched shard keep their order behind WATCH on its connection.
    if (this.watching && this.txConn !== null) {
      const target = this.targetShard(cmd);
      if (target.rewrite) return Outcome.Rewrite;
      // (A refused SORT is answered by the dispatcher, in order: it never reaches the shard.)
      if (target.shard === this.txShard && target.error === null && !cmd.migrating && isForwardable(cmd.route) && cmd.sortRefusal === null) {
        this.onTx().send(cmd.chunk, this.client, this.client.reserve(cmd.route.id), cmd.start, cmd.end);
        return Outcome.Handled;
      }
    }
    return Outcome.Normal;
  }

  /* ---------- transactions ---------- */

  private inTransaction(cmd: SessionCommand, kind: Kind): Outcome {
    const route = cmd.route;
    switch (kind) {
      case Kind.Multi:
        this.replyNow(cmd, TXN.nested);
        return Outcome.Handled;
      case Kind.Exec:
        this.exec(cmd);
        return Outcome.Handled;
      case Kind.Discard:
        this.discard(cmd);
        return Outcome.Handled;
      case Kind.Watch:
        this.replyNow(cmd, TXN.watchInMulti);
        return Outcome.Handled;
      case Kind.ClientUnblock:
      case Kind.ClientKill:
        return this.refuse(cmd, notInTransaction(route.name, "it acts on the proxy's clients, which a shard cannot queue"));
      default:
        break; // UNWATCH, WAIT and blocking commands are queued: Redis runs them without blocking in EXEC
    }
    if (route.name === 'reset') {
      this.reset();
      return Outcome.Normal;
    }
    if (route.name === 'quit') return Outcome.Normal;
    if (route.name === 'hello') return this.queueHello(cmd);
    switch (route.route) {
      case Route.Unsupported:
        return this.refuse(cmd, route.refusal!);
      case Route.AllShards:
        return this.refuse(cmd, notInTransaction(route.name, 'it runs on every shard'));
      case Route.PubSub:
        return this.refuse(cmd, notInTransaction(route.name, "pub/sub is placed by channel, not by the transaction's slot"));
      case Route.Proxy:
        if (route.name === 'select') {
          const db = cmd.args()[1].toString('latin1');
          if (db !== '0') return this.refuse(cmd, ERRORS.onlyDb0);
        } else if (!QUEUEABLE_PROXY.has(route.name)) {
          return this.refuse(cmd, notInTransaction(route.name, 'the proxy answers it (from every shard or for the proxy connection), no single shard can queue it'));
        }
        break;
      default:
        break;
    }
    const target = this.targetShard(cmd);
    if (target.rewrite) return Outcome.Rewrite;
    if (target.error !== null) return this.refuse(cmd, target.error);
    if (cmd.migrating) return this.refuse(cmd, migratingNow());
    this.queued++; // (a refusal below answers an error: not queued, as on Redis)
    if (target.shard < 0) {
      // Keyless: on the chosen shard, or kept until a key chooses one.
      if (this.txConn !== null) this.sendOnTx(cmd);
      else {
        this.pre.push(Buffer.from(cmd.chunk.subarray(cmd.start, cmd.end)));
        this.replyNow(cmd, TXN.queued);
      }
      return Outcome.Handled;
    }
    const problem = this.bindTo(target.shard, target.slot);
    if (problem !== null) {
      this.queued--;
      return this.refuse(cmd, problem);
    }
    if (cmd.sortRefusal !== null) {
      // Redis Cluster queues it and EXEC answers its error: a script that fails with that text.
      const queued = cmd.sortRefusal.queued;
      this.onTx().send(queued, this.client, this.client.reserve(cmd.route.id), 0, queued.length);
    } else this.sendOnTx(cmd);
    return Outcome.Handled;
  }

  /** HELLO in MULTI: its stand-in is queued where it stands (on the shard, or kept until one is chosen). */
  private queueHello(cmd: SessionCommand): Outcome {
    const args = cmd.args();
    const hello: QueuedHello = { index: this.queued++, args, switchesTo: this.client.helloSwitchesTo(args) };
    (this.hellos ??= []).push(hello);
    const bytes = standIn(hello);
    if (this.txConn !== null) this.onTx().send(bytes, this.client, this.client.reserve(cmd.route.id), 0, bytes.length);
    else {
      this.pre.push(bytes);
      this.replyNow(cmd, TXN.queued);
    }
    return Outcome.Handled;
  }

  private sendOnTx(cmd: SessionCommand): void {
    this.onTx().send(cmd.chunk, this.client, this.client.reserve(cmd.route.id), cmd.start, cmd.end);
  }

  /**
   * The transaction's connection, speaking the client's protocol: a client may send HELLO between
   * WATCH and its next command. Never switched inside MULTI (the server would queue HELLO): a
   * HELLO there is queued with its stand-in and applied at EXEC (helloInMulti.ts), so the
   * client's protocol does not change between MULTI and EXEC.
   */
  private onTx(): DedicatedConnection {
    const conn = this.txConn!;
    if (!this.inMulti) conn.speak(this.client.proto);
    return conn;
  }

  /** Answer a queue-time error and mark the transaction (EXEC will abort). */
  private refuse(cmd: SessionCommand, reply: Buffer): Outcome {
    this.flagged = true;
    this.replyNow(cmd, reply);
    return Outcome.Handled;
  }

  /**
   * Check (and on the first key, choose) the transaction's slot and shard; lease the connection
   * and replay what was queued before. Returns the error reply when the key does not fit.
   */
  private bindTo(shard: number, slot: number): Buffer | null {
    const relaxed = this.ctx.config.crossSlot === 'shard';
    if (this.txShard >= 0) {
      if (shard !== this.txShard) return ERRORS.crossSlot;
      if (!relaxed && slot >= 0 && this.txSlot >= 0 && slot !== this.txSlot) return ERRORS.crossSlot;
      if (slot >= 0 && this.txSlot < 0) this.txSlot = slot;
      return null;
    }
    const conn = this.lease(shard);
    if (Buffer.isBuffer(conn)) return conn;
    this.txConn = conn;
    this.txShard = shard;
    this.txSlot = slot;
    if (this.inMulti) {
      conn.sendQuiet(MULTI);
      for (const c of this.pre) conn.sendQuiet(c);
      this.pre = [];
    }
    return null;
  }

  private lease(shard: number): DedicatedConnection | Buffer {
    const shards = this.ctx.router.shards;
    if (shard === NO_SHARD || shard >= shards.length) return shards.length === 0 ? ERRORS.noShards : ERRORS.slotNotServed;
    return this.pool.acquire(shards[shard], this, this.client.proto);
  }

  private exec(cmd: SessionCommand): void {
    const conn = this.txConn;
    const flagged = this.flagged;
    const moved = this.txMoved;
    const pre = this.pre;
    const hellos = this.hellos;
    this.endTransaction();
    if (conn !== null && !conn.open) return this.replyNow(cmd, execAbortFailed(conn.closeReason));
    if (moved !== null || flagged) {
      this.replyNow(cmd, moved !== null ? execAbortMoved(moved) : TXN.execAbort);
      if (conn !== null) this.releaseAfter(conn, DISCARD);
      return;
    }
    let target = conn;
    if (target === null) {
      if (pre.length === 0) return this.replyNow(cmd, TXN.emptyExec);
      const leased = this.lease(this.ctx.router.keylessShard);
      if (Buffer.isBuffer(leased)) return this.replyNow(cmd, leased);
      target = leased;
      target.sendQuiet(MULTI);
      for (const c of pre) target.sendQuiet(c);
    }
    this.sendThenRelease(target, cmd, hellos);
  }

  private discard(cmd: SessionCommand): void {
    const conn = this.txConn;
    this.endTransaction();
    if (conn === null) return this.replyNow(cmd, OK);
    if (!conn.open) {
      this.pool.release(conn, false);
      return this.replyNow(cmd, OK); // nothing was executed; the server dropped its state with the connection
    }
    this.sendThenRelease(conn, cmd);
  }

  private watch(cmd: SessionCommand): Outcome {
    const target = this.targetShard(cmd);
    if (target.rewrite) return Outcome.Rewrite;
    if (target.error !== null) return this.replyNow(cmd, target.error), Outcome.Handled;
    if (cmd.migrating) return this.replyNow(cmd, migratingNow()), Outcome.Handled;
    const problem = this.bindTo(target.shard, target.slot);
    if (problem !== null) return this.replyNow(cmd, problem), Outcome.Handled;
    this.watching = true;
    this.sendOnTx(cmd);
    return Outcome.Handled;
  }

  private unwatch(cmd: SessionCommand): Outcome {
    const conn = this.txConn === null ? null : this.onTx();
    this.endTransaction();
    if (conn === null) this.replyNow(cmd, OK);
    else this.sendThenRelease(conn, cmd);
    return Outcome.Handled;
  }

  /** RESET (and the client leaving): drop MULTI and WATCH on the shard, give the connection back. */
  private reset(): void {
    const conn = this.txConn;
    const multiSent = this.inMulti && conn !== null;
    this.endTransaction();
    if (conn !== null) this.releaseAfter(conn, multiSent ? DISCARD : UNWATCH);
  }

  private endTransaction(): void {
    this.inMulti = false;
    this.queued = 0;
    this.flagged = false;
    this.watching = false;
    this.txConn = null;
    this.txShard = -1;
    this.txSlot = -1;
    this.pre = [];
    this.txMoved = null;
    this.hellos = null;
  }

  /**
   * Send the client's EXEC / DISCARD / UNWATCH; pass its reply through, then give the connection
   * back clean. The client is held meanwhile: its next commands may go to other connections,
   * and must not overtake the transaction (one Redis connection runs a client's commands in order).
   */
  private sendThenRelease(conn: DedicatedConnection, cmd: SessionCommand, hellos: QueuedHello[] | null = null): void {
    const client = this.client;
    const pool = this.pool;
    client.hold();
    conn.send(cmd.chunk, {
      onReply(tag, reply) {
        let clean = conn.open;
        if (hellos !== null) {
          // EXEC ran HELLO stand-ins: the proxy's HELLO replies in their place, and the connection
          // is filed under the protocol the last one left it in.
          const before = conn.proto;
          const mapped = execReplyWithHellos(reply, hellos, (h) => client.hello(h.args));
          if (mapped === null) {
            reply = EXEC_UNREADABLE;
            clean = false;
          } else {
            if (mapped !== reply) conn.proto = protoAfter(hellos, before);
            reply = mapped;
          }
        }
        client.onReply(tag, reply);
        pool.release(conn, clean);
        client.unhold();
      },
    }, client.reserve(cmd.route.id), cmd.start, cmd.end);
  }

  /** Send a clean-up command of the proxy's own, then give the connection back. */
  private releaseAfter(conn: DedicatedConnection, command: Buffer): void {
    if (!conn.open) return this.pool.release(conn, false);
    const pool = this.pool;
    conn.send(command, { onReply: () => pool.release(conn, conn.open) }, 0);
  }

  /* ---------- blocking commands ---------- */

  private block(cmd: SessionCommand): Outcome {
    const name = cmd.route.name;
    let args: Buffer[] | null = null;
    if (name === 'xread' || name === 'xreadgroup') {
      args = cmd.args();
      if (xreadBlockIndex(args) < 0) return Outcome.Normal; // no BLOCK: an ordinary read
    }
    const target = this.targetShard(cmd);
    if (target.rewrite) return Outcome.Rewrite;
    if (target.error !== null) return this.replyNow(cmd, target.error), Outcome.Handled;
    if (cmd.migrating) return this.replyNow(cmd, migratingNow()), Outcome.Handled;
    let conn: DedicatedConnection | Buffer;
    let own = true;
    if (this.txConn !== null && this.txShard === target.shard) {
      conn = this.onTx(); // WATCH state on that shard: same connection, same order
      own = false;
    } else {
      conn = this.lease(target.shard < 0 ? this.ctx.router.keylessShard : target.shard);
    }
    if (Buffer.isBuffer(conn)) return this.replyNow(cmd, conn), Outcome.Handled;
    const timeout = blockingTimeoutMs(name, args ?? cmd.args());
    const grace = this.ctx.config.timeouts.requestMs;
    const blocked: Blocked = { conn, own, shard: target.shard, slot: target.slot, timer: null, moved: false };
    this.blocked = blocked;
    const seq = this.client.reserve(cmd.route.id);
    this.client.hold();
    const bound = timeout === null ? grace : timeout === 0 ? 0 : timeout + grace;
    let cancelled: Buffer | null = null;
    if (bound > 0) {
      blocked.timer = this.pool.clock.setTimeout(() => {
        cancelled = blockTimedOut(timeout ?? 0, grace);
        blocked.conn.fail('did not answer a blocking command in time');
      }, bound);
    }
    conn.send(cmd.chunk, {
      onReply: (tag, reply) => {
        if (blocked.timer !== null) this.pool.clock.clearTimer(blocked.timer);
        if (this.blocked === blocked) this.blocked = null;
        if (cancelled !== null) reply = cancelled;
        else if (blocked.moved && isErrorReply(reply)) reply = movedWhileBlocked(blocked.slot); // UNBLOCKED, or its connection closed for the move
        this.client.onReply(tag, reply);
        if (blocked.own) this.pool.release(blocked.conn, blocked.conn.open);
        this.client.unhold();
      },
    }, seq, cmd.start, cmd.end);
    return Outcome.Handled;
  }

  /** CLIENT UNBLOCK for this client: unblock it on its shard; the reply goes to `seq`. */
  unblockOnServer(caller: SessionClient, mode: string, seq: number): boolean {
    const b = this.blocked;
    if (b === null || b.conn.backendId < 0 || !b.conn.open) return false;
    caller.forwardTo(b.shard < 0 ? this.ctx.router.keylessShard : b.shard, encodeCommand(['CLIENT', 'UNBLOCK', String(b.conn.backendId), mode]), seq);
    return true;
  }

  unblockFromElsewhere(mode: string): Promise<boolean> {
    const b = this.blocked;
    if (b === null || b.conn.backendId < 0 || !b.conn.open) return Promise.resolve(false);
    // Sent on this client's own pinned connection to the shard; the shard answers :1 or :0.
    return new Promise((resolve) => {
      this.client.forwardTo(b.shard < 0 ? this.ctx.router.keylessShard : b.shard, encodeCommand(['CLIENT', 'UNBLOCK', String(b.conn.backendId), mode]), 0, {
        onReply: (_tag, reply) => resolve(reply.equals(ONE)),
      });
    });
  }

  /* ---------- WAIT ---------- */

  private wait(cmd: SessionCommand): Outcome {
    const args = cmd.args();
    const seq = this.client.reserve(cmd.route.id);
    const numText = args[1].toString('latin1');
    const msText = args[2].toString('latin1');
    if (!/^-?\d{1,18}$/.test(numText)) return this.client.onReply(seq, TXN.notInteger), Outcome.Handled;
    if (!/^-?\d{1,18}$/.test(msText)) return this.client.onReply(seq, TXN.timeoutNotInteger), Outcome.Handled;
    if (Number(msText) < 0) return this.client.onReply(seq, TXN.timeoutNegative), Outcome.Handled;
    this.waiting = true;
    this.client.hold();
    runWait(this.client, this.ctx, this.pool, this, Number(numText), Number(msText), (reply) => {
      this.waiting = false;
      this.client.onReply(seq, reply);
      this.client.unhold();
    });
    return Outcome.Handled;
  }

  /* ---------- routing ---------- */

  /** Shard and slot of a command's keys (-1: keyless), or the error that refuses it. */
  private targetShard(cmd: SessionCommand): { shard: number; slot: number; error: Buffer | null; rewrite: boolean } {
    if (cmd.needsRewrite) return { shard: -1, slot: -1, error: null, rewrite: true };
    const slot = cmd.slot;
    if (slot === SLOT_NONE) return { shard: -1, slot: -1, error: null, rewrite: false };
    if (slot === SLOT_CROSS) {
      if (this.ctx.config.crossSlot === 'shard' && cmd.keysShard >= 0) return { shard: cmd.keysShard, slot: -1, error: null, rewrite: false };
      return { shard: -1, slot: -1, error: ERRORS.crossSlot, rewrite: false };
    }
    const shard = this.ctx.router.slotTable[slot];
    if (shard === NO_SHARD) return { shard: -1, slot, error: ERRORS.slotNotServed, rewrite: false };
    if (shard === FENCED_SHARD) return { shard: -1, slot, error: this.ctx.router.fencedSlotReply, rewrite: false };
    return { shard, slot, error: null, rewrite: false };
  }

  private replyNow(cmd: SessionCommand, reply: Buffer): void {
    this.client.onReply(this.client.reserve(cmd.route.id), reply);
  }

  /* ---------- events ---------- */

  /** The routing changed: states on slots that moved end (DedicatedHolder). */
  topologyChanged(): void {
    const router = this.ctx.router;
    const b = this.blocked;
    if (b !== null && b.slot >= 0 && b.conn.open && (router.slotTable[b.slot] !== b.shard || router.migrating[b.slot] !== 0) && !b.moved) {
      b.moved = true;
      // Unblock it on its server (no element is lost: a pop that already happened is answered).
      if (b.conn.backendId >= 0 && router.shards[b.shard]?.downReply === null) this.unblockMoved(b, 1);
      else b.conn.fail('its slot moved while the client was blocked');
    }
    if (this.txConn !== null && this.txMoved === null) {
      if (this.txSlot >= 0 && (router.slotTable[this.txSlot] !== this.txShard || router.migrating[this.txSlot] !== 0)) this.txMoved = `slot ${this.txSlot}`;
    }
  }

  /**
   * CLIENT UNBLOCK ... ERROR for a blocked command whose slot moved, on the client's shared
   * connection. `:0` while it is still blocked here: the command was still on its way to the
   * server (sent just before the move), so ask again shortly rather than leave it blocked there;
   * a pop answered meanwhile ends the retries (`blocked` changes) and is delivered.
   */
  private unblockMoved(b: Blocked, attempt: number): void {
    this.client.forwardTo(b.shard, encodeCommand(['CLIENT', 'UNBLOCK', String(b.conn.backendId), 'ERROR']), 0, {
      onReply: (_tag, reply) => {
        if (reply.equals(ONE) || this.blocked !== b || !b.conn.open) return;
        if (attempt >= UNBLOCK_TRIES) return b.conn.fail('its slot moved while the client was blocked');
        this.pool.clock.setTimeout(() => {
          if (this.blocked === b && b.conn.open) this.unblockMoved(b, attempt + 1);
        }, UNBLOCK_RETRY_MS);
      },
    });
  }

  /** The client disconnected: blocked → close (the server unblocks); transaction → clean up. */
  clientClosed(): void {
    if (this.closed) return;
    this.closed = true;
    const b = this.blocked;
    this.blocked = null;
    if (b !== null) {
      if (b.timer !== null) this.pool.clock.clearTimer(b.timer);
      if (b.own) this.pool.release(b.conn, false);
      else b.conn.close('client disconnected while blocked');
    }
    const conn = this.txConn;
    if (conn === null) return;
    if (b !== null && !b.own) {
      this.endTransaction();
      this.pool.release(conn, false); // blocked on it: closed above, state unknown
    } else this.reset();
  }
}

/** Classes a shard can take as they are (the rest the proxy answers, splits or refuses). */
function isForwardable(route: CommandRoute): boolean {
  const r = route.route;
  return r === Route.Single || r === Route.SameSlot || r === Route.Split || r === Route.NoKey || r === Route.Sort;
}

