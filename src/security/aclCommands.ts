/**
 * The ACL commands the proxy answers itself (users live in the proxy's config, not on the
 * shards): WHOAMI, LIST, USERS, GETUSER, CAT, GENPASS; the ones that would change users answer a
 * clear error (users change through the config file and `kvstore ctl reload`). Each returns the
 * complete RESP2 reply; texts are Redis 7.0's where Redis has one.
 */
import { randomBytes } from 'node:crypto';
import { arrayReply, bulkReply, EMPTY_ARRAY, errorReply, NULL_BULK, simpleReply } from '../proxy/Resp';
import type { AclUser } from './AclUser';
import { categoryByName, CATEGORY_NAMES, commandsInCategory } from './aclCategories';
import type { UserDirectory } from './UserDirectory';

/** ACL subcommands the proxy answers (the command table marks ACL as a per-server command). */
export const PROXY_ACL_COMMANDS: readonly string[] = ['whoami', 'list', 'users', 'getuser', 'cat', 'genpass', 'help', 'setuser', 'deluser', 'dryrun', 'load', 'save', 'log'].map((s) => `acl|${s}`);

export const READ_ONLY_ACL = errorReply(
  'ERR Kvstore: users are set in the config file (users: [{ name, rules }]) and change with `kvstore ctl reload`; this ACL subcommand is not supported',
);

export function aclWhoami(user: AclUser): Buffer {
  return bulkReply(user.name);
}

export function aclList(users: UserDirectory): Buffer {
  return arrayReply(users.sorted().map((u) => bulkReply(u.describe())));
}

export function aclUsers(users: UserDirectory): Buffer {
  return arrayReply(users.sorted().map((u) => bulkReply(u.name)));
}

/** RESP2 ACL GETUSER: flags, passwords, commands, keys, channels, selectors (7.0 field order). */
export function aclGetuser(users: UserDirectory, name: Buffer): Buffer {
  const user = users.get(name.toString('utf8'));
  if (!user) return NULL_BULK;
  return arrayReply([
    bulkReply('flags'), arrayReply(user.flagNames().map((f) => bulkReply(f))),
    bulkReply('passwords'), arrayReply(user.passwords.map((p) => bulkReply(p))),
    bulkReply('commands'), bulkReply(user.commandRules()),
    bulkReply('keys'), bulkReply(user.keysDescription()),
    bulkReply('channels'), bulkReply(user.channelsDescription()),
    bulkReply('selectors'), EMPTY_ARRAY,
  ]);
}

/** ACL CAT [category] (args after the subcommand). */
export function aclCat(args: Buffer[]): Buffer {
  if (args.length === 0) return arrayReply(CATEGORY_NAMES.map((c) => bulkReply(c)));
  if (args.length > 1) return errorReply("ERR unknown subcommand or wrong number of arguments for 'cat'. Try ACL HELP.");
  const index = categoryByName(args[0].toString('utf8'));
  if (index < 0) return errorReply(`ERR Unknown category '${args[0].toString('utf8')}'`);
  return arrayReply(commandsInCategory(index).map((n) => bulkReply(n)));
}

/** ACL GENPASS [bits]: random hex, 256 bits by default. */
export function aclGenpass(args: Buffer[]): Buffer {
  let bits = 256;
  if (args.length > 0) {
    const text = args[0].toString('latin1');
    bits = /^-?\d{1,18}$/.test(text) ? Number(text) : -1;
    if (bits <= 0 || bits > 4096) return errorReply('ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096');
  }
  const chars = Math.ceil(bits / 4);
  return bulkReply(randomBytes(Math.ceil(chars / 2)).toString('hex').slice(0, chars));
}

/** Dispatch by subcommand name (`whoami`, ...); arity was checked by the caller. */
export function aclCommand(sub: string, args: Buffer[], user: AclUser, users: UserDirectory): Buffer {
  switch (sub) {
    case 'whoami':
      return aclWhoami(user);
    case 'list':
      return aclList(users);
    case 'users':
      return aclUsers(users);
    case 'getuser':
      return aclGetuser(users, args[0]);
    case 'cat':
      return aclCat(args);
    case 'genpass':
      return aclGenpass(args);
    case 'help':
      return arrayReply([
        'ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands supported by Kvstore are:',
        'CAT [<category>]', '    List all commands that belong to <category>, or all command categories.',
        'GENPASS [<bits>]', '    Generate a secure 256-bit user password.',
        'GETUSER <username>', "    Get the user's details.",
        'LIST', '    Show users details in config file format.',
        'USERS', '    List all the registered usernames.',
        'WHOAMI', '    Return the current connection username.',
        'Users are set in the config file (users:) and change with `kvstore ctl reload`.',
      ].map((l) => simpleReply(l)));
    default:
      return READ_ONLY_ACL;
  }
}

