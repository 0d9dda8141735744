/**
 * One ACL user, built by applying Redis 7.0's `ACL SETUSER` rules one at a time (acl.c
 * `ACLSetUser` / `ACLSetSelector`), and described back the way `ACL LIST` / `ACL GETUSER` do.
 *
 * Why a hand-written evaluator: the proxy has to answer AUTH and decide -NOPERM itself (the
 * redis-servers behind it see one backend user), and it has to do so per command on the hot
 * path: a command is one byte load from `allowed` by command id, keys are matched only for
 * users with key restrictions. The rule semantics follow Redis's source, including the ones
 * that surprise (`+@cat` on a container grants all its subcommands; only `+@all`/`-@all`
 * decide whether future commands are allowed), and are checked against a real redis-server in
 * test/integration/acl-redis.test.ts.
 *
 * Not supported (config errors, with the reason): selectors `(...)`/`clearselectors` and the
 * deprecated first-argument rules (`+select|0`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { commands, commandId } from '../commands/table';
import { categoryByName, categoryMask, CATEGORY_NAMES, subcommandIds, topLevelIds } from './aclCategories';
import { AclRuleError } from './errors';

export const ACL_READ = 1;
export const ACL_WRITE = 2;
export const ACL_ALL = ACL_READ | ACL_WRITE;

export interface KeyPattern {
  /** The glob, raw bytes (matched with Redis's stringmatchlen rules). */
  readonly pattern: Buffer;
  /** ACL_READ, ACL_WRITE or both (`%R~`, `%W~`, `~`). */
  readonly flags: number;
}

const HEX64 = /^[0-9a-f]{64}$/;

export function sha256Hex(password: string | Buffer): string {
  return createHash('sha256').update(password).digest('hex');
}

export class AclUser {
  enabled = false;
  nopass = false;
  /** sanitize-payload / skip-sanitize-payload (kept for ACL LIST; the shards do the sanitizing). */
  sanitizePayload = false;
  skipSanitizePayload = false;
  /** sha256 hex of each password, in the order added. */
  readonly passwords: string[] = [];
  /** Per command id: 1 = may run. */
  readonly allowed: Uint8Array = new Uint8Array(commands.length);
  /** Set by +@all / allcommands, cleared by -@all / nocommands only (Redis's "future commands" bit). */
  allCommands = false;
  allKeys = false;
  readonly keyPatterns: KeyPattern[] = [];
  allChannels = false;
  readonly channelPatterns: Buffer[] = [];

  constructor(readonly name: string) {}

  /** Apply one rule (`on`, `>pw`, `~app:*`, `+@read`, ...); throws AclRuleError as Redis would refuse it. */
  apply(op: string): void {
    this.unrestrictedCache = null;
    const lower = op.toLowerCase();
    if (lower === 'on') {
      this.enabled = true;
    } else if (lower === 'off') {
      this.enabled = false;
    } else if (lower === 'skip-sanitize-payload') {
      this.skipSanitizePayload = true;
      this.sanitizePayload = false;
    } else if (lower === 'sanitize-payload') {
      this.sanitizePayload = true;
      this.skipSanitizePayload = false;
    } else if (lower === 'nopass') {
      this.nopass = true;
      this.passwords.length = 0;
    } else if (lower === 'resetpass') {
      this.nopass = false;
      this.passwords.length = 0;
    } else if (op[0] === '>' || op[0] === '#') {
      const hash = op[0] === '>' ? sha256Hex(Buffer.from(op.slice(1), 'utf8')) : op.slice(1);
      if (op[0] === '#' && !HEX64.test(hash)) throw new AclRuleError(op, 'The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters');
      if (!this.passwords.includes(hash)) this.passwords.push(hash);
      this.nopass = false;
    } else if (op[0] === '<' || op[0] === '!') {
      const hash = op[0] === '<' ? sha256Hex(Buffer.from(op.slice(1), 'utf8')) : op.slice(1);
      if (op[0] === '!' && !HEX64.test(hash)) throw new AclRuleError(op, 'The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters');
      const at = this.passwords.indexOf(hash);
      if (at < 0) throw new AclRuleError(op, 'The password you are trying to remove from the user does not exist');
      this.passwords.splice(at, 1);
    } else if (op === '~*' || lower === 'allkeys') {
      this.allKeys = true;
      this.keyPatterns.length = 0;
    } else if (lower === 'resetkeys') {
      this.allKeys = false;
      this.keyPatterns.length = 0;
    } else if (op[0] === '~' || op[0] === '%') {
      this.addKeyPattern(op);
    } else if (op === '&*' || lower === 'allchannels') {
      this.allChannels = true;
      this.channelPatterns.length = 0;
    } else if (lower === 'resetchannels') {
      this.allChannels = false;
      this.channelPatterns.length = 0;
    } else if (op[0] === '&') {
      if (this.allChannels) {
        throw new AclRuleError(op, "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels");
      }
      const pattern = Buffer.from(op.slice(1), 'utf8');
      if (!this.channelPatterns.some((p) => p.equals(pattern))) this.channelPatterns.push(pattern);
    } else if (lower === 'allcommands' || lower === '+@all') {
      this.allowed.fill(1);
      this.allCommands = true;
    } else if (lower === 'nocommands' || lower === '-@all') {
      this.allowed.fill(0);
      this.allCommands = false;
    } else if ((op[0] === '+' || op[0] === '-') && op[1] === '@') {
      const cat = categoryByName(op.slice(2));
      if (cat < 0) throw new AclRuleError(op, 'Unknown command or category name in ACL');
      this.setCategory(cat, op[0] === '+');
    } else if (op[0] === '+' || op[0] === '-') {
      const name = lower.slice(1);
      const id = commandId(name);
      if (id < 0) {
        const bar = name.indexOf('|');
        if (bar > 0 && commandId(name.slice(0, bar)) >= 0 && subcommandIds[commandId(name.slice(0, bar))].length === 0) {
          throw new AclRuleError(op, 'Kvstore does not support first-argument rules (deprecated in Redis 7); allow the whole command or use a category');
        }
        throw new AclRuleError(op, 'Unknown command or category name in ACL');
      }
      this.changePerm(id, op[0] === '+');
    } else if (lower === 'reset') {
      this.apply('resetpass');
      this.apply('resetkeys');
      this.apply('resetchannels');
      this.apply('off');
      this.apply('sanitize-payload');
      this.apply('-@all');
    } else if (op[0] === '(' || lower === 'clearselectors') {
      throw new AclRuleError(op, 'Kvstore does not support ACL selectors; give the user one set of rules');
    } else {
      throw new AclRuleError(op, 'Syntax error');
    }
  }

  /** `~pattern`, `%R~pattern`, `%W~pattern`, `%RW~pattern` (acl.c, same checks and order). */
  private addKeyPattern(op: string): void {
    let flags = 0;
    let offset = 1;
    if (op[0] === '%') {
      for (; offset < op.length; offset++) {
        const c = op[offset].toUpperCase();
        if (c === 'R' && (flags & ACL_READ) === 0) flags |= ACL_READ;
        else if (c === 'W' && (flags & ACL_WRITE) === 0) flags |= ACL_WRITE;
        else if (op[offset] === '~') {
          offset++;
          break;
        } else throw new AclRuleError(op, 'Syntax error');
      }
    } else {
      flags = ACL_ALL;
    }
    if (this.allKeys) {
      throw new AclRuleError(op, "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns");
    }
    const pattern = Buffer.from(op.slice(offset), 'utf8');
    if (!this.keyPatterns.some((p) => p.flags === flags && p.pattern.equals(pattern))) this.keyPatterns.push({ pattern, flags });
  }

  /** acl.c ACLChangeSelectorPerm: a container's bit and all its subcommands' bits. */
  private changePerm(id: number, allow: boolean): void {
    changePerm(this.allowed, id, allow ? 1 : 0);
  }

  private setCategory(cat: number, allow: boolean): void {
    setCategoryBits(this.allowed, cat, allow ? 1 : 0);
  }

  /* ---------- checks ---------- */

  /** AUTH: enabled, and nopass or one of the passwords (constant-time compare of the hashes). */
  checkPassword(password: Buffer): boolean {
    if (!this.enabled) return false;
    if (this.nopass) return true;
    const hash = Buffer.from(sha256Hex(password), 'hex');
    let ok = false;
    for (const p of this.passwords) if (timingSafeEqual(hash, Buffer.from(p, 'hex'))) ok = true;
    return ok;
  }

  private unrestrictedCache: boolean | null = null;

  /** Runs every command on every key and channel: the data path skips all ACL checks. */
  get unrestricted(): boolean {
    return (this.unrestrictedCache ??= this.allKeys && this.allChannels && this.allowed.every((b) => b === 1));
  }

  /** Some key pattern is read-only or write-only: keys need their access flags, not only names. */
  get hasPartialKeyPatterns(): boolean {
    return this.keyPatterns.some((p) => p.flags !== ACL_ALL);
  }

  /* ---------- ACL LIST / GETUSER ---------- */

  /** The flags as ACL GETUSER lists them (acl.c ACLUserFlags order). */
  flagNames(): string[] {
    const out: string[] = [this.enabled ? 'on' : 'off'];
    if (this.nopass) out.push('nopass');
    if (this.skipSanitizePayload) out.push('skip-sanitize-payload');
    if (this.sanitizePayload) out.push('sanitize-payload');
    return out;
  }

  keysDescription(): string {
    if (this.allKeys) return '~*';
    return this.keyPatterns.map((p) => `${p.flags === ACL_ALL ? '' : p.flags === ACL_READ ? '%R' : '%W'}~${p.pattern.toString('utf8')}`).join(' ');
  }

  channelsDescription(): string {
    if (this.allChannels) return '&*';
    return this.channelPatterns.map((p) => `&${p.toString('utf8')}`).join(' ');
  }

  /**
   * The command rules as Redis 7.0 describes them (acl.c ACLDescribeSelectorCommandRules):
   * `+@all` or `-@all`, then the categories that fit best (walked in ACL CAT order), then the
   * single commands still different. Redis walks its command dict in hash order for that last
   * part; here it is table order (same set of rules, possibly another order).
   */
  commandRules(): string {
    const additive = !this.allCommands;
    const rules: string[] = [additive ? '-@all' : '+@all'];
    const fake = new Uint8Array(this.allowed.length).fill(additive ? 0 : 1);
    const temp = Uint8Array.from(this.allowed);
    const applied = new Uint8Array(CATEGORY_NAMES.length);
    for (;;) {
      let best = -1;
      let minDiff = Number.MAX_SAFE_INTEGER;
      let maxSame = 0;
      for (let c = 0; c < CATEGORY_NAMES.length; c++) {
        if (applied[c]) continue;
        const bit = 1 << c;
        let on = 0;
        let off = 0;
        for (let id = 0; id < temp.length; id++) {
          if ((categoryMask[id] & bit) === 0) continue;
          if (temp[id]) on++;
          else off++;
        }
        const diff = additive ? off : on;
        const same = additive ? on : off;
        if (same > diff && (diff < minDiff || (diff === minDiff && same > maxSame))) {
          best = c;
          minDiff = diff;
          maxSame = same;
        }
      }
      if (best < 0) break;
      setCategoryBits(fake, best, additive ? 1 : 0);
      setCategoryBits(temp, best, additive ? 0 : 1);
      rules.push(`${additive ? '+' : '-'}@${CATEGORY_NAMES[best]}`);
      applied[best] = 1;
    }
    const single = (id: number) => {
      if (this.allowed[id] !== fake[id]) {
        rules.push(`${this.allowed[id] ? '+' : '-'}${commands[id].name}`);
        changePerm(fake, id, this.allowed[id]);
      }
    };
    for (const id of topLevelIds) {
      single(id);
      for (const sub of subcommandIds[id]) single(sub);
    }
    return rules.join(' ');
  }

  /** One `ACL LIST` line. */
  describe(): string {
    const parts = ['user', this.name, ...this.flagNames(), ...this.passwords.map((p) => `#${p}`)];
    const keys = this.keysDescription();
    if (keys) parts.push(keys);
    parts.push(this.allChannels ? '&*' : ['resetchannels', ...this.channelPatterns.map((p) => `&${p.toString('utf8')}`)].join(' '));
    parts.push(this.commandRules());
    return parts.join(' ');
  }
}

function changePerm(bits: Uint8Array, id: number, value: number): void {
  bits[id] = value;
  for (const sub of subcommandIds[id]) bits[sub] = value;
}

/** acl.c ACLSetSelectorCommandBitsForCategory: containers in the category pass it to all subcommands. */
function setCategoryBits(bits: Uint8Array, cat: number, value: number): void {
  const bit = 1 << cat;
  for (const id of topLevelIds) {
    if ((categoryMask[id] & bit) !== 0) changePerm(bits, id, value);
    for (const sub of subcommandIds[id]) if ((categoryMask[sub] & bit) !== 0) changePerm(bits, sub, value);
  }
}

/** Split a rule string the way the ACL file is read (whitespace; "..." and '...' quoting). */
export function splitRules(rules: string): string[] {
  const out: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+))/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(rules)) !== null) {
    if (m[1] !== undefined) out.push(m[1].replace(/\\(.)/g, '$1'));
    else if (m[2] !== undefined) out.push(m[2]);
    else if (m[3] !== undefined) out.push(m[3]);
    if (re.lastIndex >= rules.length) break;
  }
  return out;
}

/** A user as `ACL SETUSER name <rules...>` would create it (new users start off, no rights). */
export function userFromRules(name: string, rules: string | string[]): AclUser {
  const user = new AclUser(name);
  for (const op of typeof rules === 'string' ? splitRules(rules) : rules) user.apply(op);
  return user;
}
