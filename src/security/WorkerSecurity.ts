/**
 * A worker's security state: the users of the config in force, the clients logged in per user
 * (limits.clientsPerUser), and the per-user token buckets (limits.userCommandsPerSec). Each
 * client carries its user and a `guard` bit mask that the dispatcher tests once per command:
 * 0 (an unrestricted user, no rate limit: the default) costs that one test and nothing else.
 */
import type { KvstoreConfig } from '../config/types';
import { errorReply } from '../proxy/Resp';
import { TokenBucket } from '../observability/TokenBucket';
import { aclDenial, BatchView } from './AclCheck';
import type { AclUser } from './AclUser';
import { UserDirectory } from './UserDirectory';

/** The user has restrictions: check each command against the ACL. */
export const GUARD_ACL = 1;
/** A commands-per-second limit applies to this client or its user. */
export const GUARD_RATE = 2;

/** What a client connection keeps for the security layer. */
export interface GuardedClient {
  user: AclUser;
  authed: boolean;
  guard: number;
  /** limits.clientCommandsPerSec (null: no limit). */
  bucket: TokenBucket | null;
  /** The user's shared bucket (limits.userCommandsPerSec). */
  userBucket: TokenBucket | null;
}

type Limits = Pick<KvstoreConfig['limits'], 'clientCommandsPerSec' | 'userCommandsPerSec' | 'clientsPerUser'>;

export class WorkerSecurity {
  users: UserDirectory;
  private limits: Limits;
  private readonly loggedIn = new Map<string, number>();
  private readonly userBuckets = new Map<string, TokenBucket>();
  private clientLimitReply: Buffer;
  private userLimitReplies = new Map<string, Buffer>();

  constructor(config: KvstoreConfig) {
    this.users = UserDirectory.fromConfig(config.password, config.users);
    this.limits = config.limits;
    this.clientLimitReply = clientLimitReply(config.limits.clientCommandsPerSec);
  }

  /** A new client: the default user, authenticated when it is on and nopass (Redis's rule). */
  attach(client: GuardedClient, now: number): void {
    client.user = this.users.defaultUser;
    client.authed = this.users.defaultAuthenticated;
    client.bucket = this.limits.clientCommandsPerSec > 0 ? new TokenBucket(this.limits.clientCommandsPerSec, now) : null;
    this.count(client.user, 1);
    this.regard(client, now);
  }

  detach(client: GuardedClient): void {
    this.count(client.user, -1);
  }

  /**
   * AUTH / HELLO AUTH succeeded for `user`: switch the client to it, unless limits.clientsPerUser
   * is reached (then a reply to send instead).
   */
  login(client: GuardedClient, user: AclUser, now: number): Buffer | null {
    const refused = this.loginRefusal(client, user);
    if (refused !== null) return refused;
    this.count(client.user, -1);
    client.user = user;
    client.authed = true;
    this.count(user, 1);
    this.regard(client, now);
    return null;
  }

  /** Why `client` may not log in as `user` now (limits.clientsPerUser), null when it may; changes nothing. */
  loginRefusal(client: GuardedClient, user: AclUser): Buffer | null {
    const max = this.limits.clientsPerUser;
    if (max > 0 && client.user !== user && (this.loggedIn.get(user.name) ?? 0) >= max) {
      return errorReply(`ERR Kvstore: user '${user.name}' already has ${max} clients (limits.clientsPerUser)`);
    }
    return null;
  }

  /** RESET: back to the default user. */
  logout(client: GuardedClient, now: number): void {
    this.count(client.user, -1);
    client.user = this.users.defaultUser;
    client.authed = this.users.defaultAuthenticated;
    this.count(client.user, 1);
    this.regard(client, now);
  }

  /**
   * Config reload: new users and limits. A client keeps its user by name (with the new rules);
   * returns false for a client whose user is gone (Redis disconnects those).
   */
  applyConfig(config: KvstoreConfig, clients: Iterable<GuardedClient>, now: number): GuardedClient[] {
    this.users = UserDirectory.fromConfig(config.password, config.users);
    this.limits = config.limits;
    this.clientLimitReply = clientLimitReply(config.limits.clientCommandsPerSec);
    this.userLimitReplies.clear();
    this.userBuckets.clear();
    const orphans: GuardedClient[] = [];
    for (const client of clients) {
      const user = this.users.get(client.user.name);
      if (!user) {
        orphans.push(client);
        continue;
      }
      client.user = user;
      const rate = config.limits.clientCommandsPerSec;
      client.bucket = rate > 0 ? (client.bucket !== null && client.bucket.rate === rate ? client.bucket : new TokenBucket(rate, now)) : null;
      this.regard(client, now);
    }
    return orphans;
  }

  /**
   * The refusal of command `id` (batch entry `base`) for `client`, or null. Called only when
   * client.guard !== 0.
   */
  denial(client: GuardedClient, id: number, chunk: Buffer, batch: BatchView, base: number, argv: () => Buffer[], now: number): Buffer | null {
    if ((client.guard & GUARD_RATE) !== 0) {
      if (client.bucket !== null && !client.bucket.take(now)) return this.clientLimitReply;
      if (client.userBucket !== null && !client.userBucket.take(now)) return this.userLimitReply(client.user.name);
    }
    if ((client.guard & GUARD_ACL) !== 0) return aclDenial(client.user, id, chunk, batch, base, argv);
    return null;
  }

  clientsOf(user: string): number {
    return this.loggedIn.get(user) ?? 0;
  }

  private regard(client: GuardedClient, now: number): void {
    const rate = this.limits.userCommandsPerSec;
    if (rate > 0) {
      let bucket = this.userBuckets.get(client.user.name);
      if (!bucket) this.userBuckets.set(client.user.name, (bucket = new TokenBucket(rate, now)));
      client.userBucket = bucket;
    } else client.userBucket = null;
    client.guard = (client.user.unrestricted ? 0 : GUARD_ACL) | (client.bucket !== null || client.userBucket !== null ? GUARD_RATE : 0);
  }

  private count(user: AclUser, delta: number): void {
    const n = (this.loggedIn.get(user.name) ?? 0) + delta;
    if (n <= 0) this.loggedIn.delete(user.name);
    else this.loggedIn.set(user.name, n);
  }

  private userLimitReply(name: string): Buffer {
    let reply = this.userLimitReplies.get(name);
    if (!reply) {
      reply = errorReply(`ERR Kvstore: rate limit: user '${name}' may send at most ${this.limits.userCommandsPerSec} commands per second (limits.userCommandsPerSec)`);
      this.userLimitReplies.set(name, reply);
    }
    return reply;
  }
}

function clientLimitReply(rate: number): Buffer {
  return errorReply(`ERR Kvstore: rate limit: this client may send at most ${rate} commands per second (limits.clientCommandsPerSec)`);
}
