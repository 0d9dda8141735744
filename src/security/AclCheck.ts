/**
 * The per-command ACL decision on the data path, on the parse batch as the hot path left it
 * (no allocation unless the command needs its arguments materialized, see aclKeys.ts).
 * Order and texts are Redis 7.0's (server.c processCommand, acl.c ACLSelectorCheckCmd): the
 * command, then each key, then each channel; the first denial answers.
 *
 * The caller skips all of this for unrestricted users (`AclUser.unrestricted`), so the default
 * user of a config without `users:` costs one boolean test per command.
 */
import { ARG_STRIDE, C_ARG0, C_ARGC, C_KEY0, C_NKEYS, KEY_STRIDE } from '../native/api';
import { commands } from '../commands/table';
import { globMatch } from '../keyrewrite/glob';
import { errorReply } from '../proxy/Resp';
import { ACL_READ, AclUser } from './AclUser';
import { CHANNEL_ALL_PATTERNS, CHANNEL_FIRST, CHANNEL_NONE, channelArgs, keysWithAccess, uniformKeyAccess } from './aclKeys';

export const NOPERM_KEY = errorReply('NOPERM this user has no permissions to access one of the keys used as arguments');
export const NOPERM_CHANNEL = errorReply('NOPERM this user has no permissions to access one of the channels used as arguments');

/** Per command id, built once: "-NOPERM this user has no permissions to run the 'config|get' command". */
const NOPERM_COMMAND: Buffer[] = commands.map((c) => errorReply(`NOPERM this user has no permissions to run the '${c.name}' command`));

export function nopermCommand(id: number): Buffer {
  return NOPERM_COMMAND[id];
}

/** Commands every user may run (Redis's no_auth flag: AUTH, HELLO, QUIT, RESET). */
const ALWAYS_ALLOWED: Uint8Array = Uint8Array.from(commands, (c) => (c.flags.includes('no_auth') ? 1 : 0));

/** acl.c ACLSelectorCheckKey: a pattern with every access asked for, whose glob matches. */
export function keyAllowed(user: AclUser, access: number, buf: Buffer, off: number, len: number): boolean {
  if (user.allKeys) return true;
  const patterns = user.keyPatterns;
  for (let i = 0; i < patterns.length; i++) {
    const p = patterns[i];
    if ((p.flags & access) !== access) continue;
    // stringmatchlen: an empty key matches only the empty pattern (not even "*").
    if (len === 0 ? p.pattern.length === 0 : globMatch(p.pattern, buf, off, len)) return true;
  }
  return false;
}

/** acl.c ACLCheckChannelAgainstList: patterns (PSUBSCRIBE) compare literally, channels as globs. */
export function channelAllowed(user: AclUser, channel: Buffer, isPattern: boolean): boolean {
  if (user.allChannels) return true;
  for (const p of user.channelPatterns) {
    if (isPattern ? p.equals(channel) : channel.length === 0 ? p.length === 0 : globMatch(p, channel)) return true;
  }
  return false;
}

export interface BatchView {
  cmds: Int32Array;
  args: Int32Array;
  keys: Int32Array;
}

/**
 * The -NOPERM reply for command `id` at `base` of the batch, or null when `user` may run it.
 * `argv` materializes the arguments (only called for the few commands that need them).
 */
export function aclDenial(user: AclUser, id: number, chunk: Buffer, batch: BatchView, base: number, argv: () => Buffer[]): Buffer | null {
  if (user.allowed[id] === 0 && ALWAYS_ALLOWED[id] === 0) return NOPERM_COMMAND[id];
  if (!user.allKeys) {
    const uniform = uniformKeyAccess[id];
    if (uniform >= 0) {
      const cmds = batch.cmds;
      const nk = cmds[base + C_NKEYS];
      const k0 = cmds[base + C_KEY0];
      const keys = batch.keys;
      const args = batch.args;
      for (let k = 0; k < nk; k++) {
        const a = keys[(k0 + k) * KEY_STRIDE] * ARG_STRIDE;
        if (!keyAllowed(user, uniform, chunk, args[a], args[a + 1])) return NOPERM_KEY;
      }
    } else {
      const list = argv();
      for (const [index, access] of keysWithAccess(id, list)) {
        const key = list[index];
        if (!keyAllowed(user, access, key, 0, key.length)) return NOPERM_KEY;
      }
    }
  }
  const channels = channelArgs[id];
  if (channels !== CHANNEL_NONE && !user.allChannels) {
    const cmds = batch.cmds;
    const argc = cmds[base + C_ARGC];
    const a0 = cmds[base + C_ARG0];
    const last = channels === CHANNEL_FIRST ? Math.min(1, argc - 1) : argc - 1;
    for (let i = 1; i <= last; i++) {
      const a = (a0 + i) * ARG_STRIDE;
      const channel = chunk.subarray(batch.args[a], batch.args[a] + batch.args[a + 1]);
      if (!channelAllowed(user, channel, channels === CHANNEL_ALL_PATTERNS)) return NOPERM_CHANNEL;
    }
  }
  return null;
}

/** ACL_READ re-exported for callers that test single-key access. */
export { ACL_READ };
