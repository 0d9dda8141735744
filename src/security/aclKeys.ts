/**
 * Which keys and channels a command touches, with the access Redis's ACL checks ask for
 * (db.c getKeysFromCommandWithSpecs, acl.c ACLSelectorCheckKey / getChannelsFromCommand).
 *
 * Most commands have key specs that all ask for the same access and that the hot path's key
 * extraction follows exactly: for them the data path checks the keys it already found
 * (`uniformKeyAccess[id] >= 0`). The rest take `keysWithAccess` on the materialized
 * arguments: specs with different access (LMOVE's source and destination, COPY), `not_key`
 * specs (SPUBLISH's channel), and the commands whose keys come from Redis's own getkeys
 * procedures (SET with GET, BITFIELD, SORT's STORE, MIGRATE's KEYS).
 */
import { commands, commandId } from '../commands/table';
import type { KeySpec } from '../commands/types';
import { ACL_READ, ACL_WRITE } from './AclUser';

/** ACL access asked for by a key spec's flags (acl.c: ACCESS → read; INSERT/DELETE/UPDATE → write). */
export function specAccess(flags: readonly string[]): number {
  let access = 0;
  for (const f of flags) {
    const l = f.toLowerCase();
    if (l === 'access') access |= ACL_READ;
    else if (l === 'insert' || l === 'delete' || l === 'update') access |= ACL_WRITE;
  }
  return access;
}

const SLOW_SPEC_FLAGS = new Set(['not_key', 'variable_flags', 'incomplete']);

function followable(spec: KeySpec): boolean {
  return spec.begin !== 'unknown' && spec.find !== 'unknown' && !spec.flags.some((f) => SLOW_SPEC_FLAGS.has(f.toLowerCase()));
}

/**
 * Per command id: the access every key of it needs when all its specs agree and the hot path
 * finds exactly its keys (0-3), else -1 (use keysWithAccess).
 */
export const uniformKeyAccess: Int8Array = new Int8Array(commands.length);
commands.forEach((c, id) => {
  if (c.keySpecs.length === 0) return;
  const first = specAccess(c.keySpecs[0].flags);
  const ok = c.keySpecs.every((s) => followable(s) && specAccess(s.flags) === first);
  uniformKeyAccess[id] = ok ? first : -1;
});

export const CHANNEL_NONE = 0;
/** PUBLISH, SPUBLISH: argument 1 is a channel. */
export const CHANNEL_FIRST = 1;
/** SUBSCRIBE, SSUBSCRIBE: every argument is a channel. */
export const CHANNEL_ALL = 2;
/** PSUBSCRIBE: every argument is a pattern, compared literally with the user's channel patterns. */
export const CHANNEL_ALL_PATTERNS = 3;

/** Per command id: how its arguments name channels (UNSUBSCRIBE & co. are not checked, as in Redis). */
export const channelArgs: Int8Array = new Int8Array(commands.length);
for (const [name, kind] of [
  ['publish', CHANNEL_FIRST], ['spublish', CHANNEL_FIRST], ['subscribe', CHANNEL_ALL], ['ssubscribe', CHANNEL_ALL], ['psubscribe', CHANNEL_ALL_PATTERNS],
] as const) {
  const id = commandId(name);
  if (id >= 0) channelArgs[id] = kind;
}

function eq(arg: Buffer, word: string): boolean {
  return arg.length === word.length && arg.toString('latin1').toLowerCase() === word;
}

/** Key (argument index, access) pairs of command `id` with arguments `argv` (argv[0] is the name). */
export function keysWithAccess(id: number, argv: readonly Buffer[]): Array<[number, number]> {
  const name = commands[id].name;
  const argc = argv.length;
  switch (name) {
    case 'set': {
      // setGetKeys: GET makes it a read too.
      for (let i = 3; i < argc; i++) if (eq(argv[i], 'get')) return [[1, ACL_READ | ACL_WRITE]];
      return [[1, ACL_WRITE]];
    }
    case 'bitfield': {
      // bitfieldGetKeys: read-only when every operation is a GET (or OVERFLOW).
      let readonly = true;
      for (let i = 2; i < argc; i++) {
        const rem = argc - i - 1;
        if (eq(argv[i], 'get') && rem >= 2) i += 2;
        else if ((eq(argv[i], 'set') || eq(argv[i], 'incrby')) && rem >= 3) {
          readonly = false;
          break;
        } else if (eq(argv[i], 'overflow') && rem >= 1) i += 1;
        else {
          readonly = false;
          break;
        }
      }
      return [[1, readonly ? ACL_READ : ACL_READ | ACL_WRITE]];
    }
    case 'sort': {
      // sortGetKeys: the key, and the last STORE's destination (BY/GET patterns are not keys;
      // its loop does not skip STORE's argument, as SORT itself uses the last STORE).
      const out: Array<[number, number]> = argc > 1 ? [[1, ACL_READ]] : [];
      let store = -1;
      for (let i = 2; i < argc; i++) {
        if (eq(argv[i], 'limit')) i += 2;
        else if (eq(argv[i], 'store') && i + 1 < argc) store = i + 1;
        else if (eq(argv[i], 'get') || eq(argv[i], 'by')) i += 1;
      }
      if (store >= 0) out.push([store, ACL_WRITE]);
      return out;
    }
    case 'sort_ro':
      // sortROGetKeys: the key alone (STORE is a syntax error there, not a key).
      return argc > 1 ? [[1, ACL_READ]] : [];
    case 'migrate': {
      // migrateGetKeys: an empty key argument and KEYS k1 k2 ... (searched from the end).
      if (argc > 6 && argv[3].length === 0) {
        for (let i = 6; i < argc; i++) {
          if (eq(argv[i], 'keys')) {
            const out: Array<[number, number]> = [];
            for (let k = i + 1; k < argc; k++) out.push([k, ACL_READ | ACL_WRITE]);
            return out;
          }
        }
      }
      return argc > 3 ? [[3, ACL_READ | ACL_WRITE]] : [];
    }
    default:
      return keysFromSpecs(commands[id].keySpecs, argv);
  }
}

/** getKeysUsingKeySpecs for the followable specs, skipping not_key ones (GET_KEYSPEC_DEFAULT). */
function keysFromSpecs(specs: readonly KeySpec[], argv: readonly Buffer[]): Array<[number, number]> {
  const argc = argv.length;
  const out: Array<[number, number]> = [];
  for (const spec of specs) {
    if (spec.flags.some((f) => f.toLowerCase() === 'not_key') || spec.begin === 'unknown' || spec.find === 'unknown') continue;
    let first = 0;
    if ('index' in spec.begin) first = spec.begin.index;
    else {
      const { keyword, startFrom } = spec.begin;
      const word = keyword.toLowerCase();
      const start = startFrom > 0 ? startFrom : argc + startFrom;
      const end = startFrom > 0 ? argc - 1 : 0;
      for (let i = start; i !== end; i = start <= end ? i + 1 : i - 1) {
        if (i >= argc || i < 1) break;
        if (eq(argv[i], word)) {
          first = i + 1;
          break;
        }
      }
      if (first === 0) continue;
    }
    let last: number;
    let step: number;
    if ('lastKey' in spec.find) {
      const { lastKey, limit } = spec.find;
      step = spec.find.step;
      if (lastKey >= 0) last = first + lastKey;
      else if (limit === 0) last = argc + lastKey;
      else last = first + (Math.trunc((argc - first) / limit) + lastKey);
    } else {
      const numIdx = first + spec.find.keyNumIdx;
      if (numIdx >= argc) return [];
      const n = Number(argv[numIdx].toString('latin1'));
      if (!Number.isInteger(n) || n < 0) return [];
      step = spec.find.step;
      first += spec.find.firstKey;
      last = first + n - 1;
      if (n === 0) continue;
    }
    if (last >= argc || last < first || first >= argc || step <= 0) return [];
    const access = specAccess(spec.flags);
    for (let i = first; i <= last; i += step) out.push([i, access]);
  }
  return out;
}
