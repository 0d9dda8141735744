/**
 * The users of one config: `users: [{ name, rules }]` plus the `default` user. Without a
 * `default` entry the default user is what today's single `password` means: `on nopass ~* &*
 * +@all` without a password, `on >password ~* &* +@all` with one (as Redis's requirepass).
 * Built whole on each config load/reload; clients look their user up by name again then.
 */
import { ConfigError } from '../errors';
import { AclUser, userFromRules } from './AclUser';

export interface UserConfig {
  name: string;
  rules: string;
}

const USER_NAME = /^[^\s"']{1,128}$/;

export class UserDirectory {
  private readonly byName: Map<string, AclUser>;

  private constructor(users: AclUser[]) {
    this.byName = new Map(users.map((u) => [u.name, u]));
  }

  /** Every problem at once, one line each (ConfigError), or the directory. */
  static fromConfig(password: string, users: readonly UserConfig[]): UserDirectory {
    const problems = userConfigProblems(password, users);
    if (problems.length > 0) throw new ConfigError(problems.join('\n'));
    const list = users.map((u) => userFromRules(u.name, u.rules));
    if (!list.some((u) => u.name === 'default')) {
      list.push(userFromRules('default', password === '' ? ['on', 'nopass', '~*', '&*', '+@all'] : ['on', `>${password}`, '~*', '&*', '+@all']));
    }
    return new UserDirectory(list);
  }

  get defaultUser(): AclUser {
    return this.byName.get('default')!;
  }

  get(name: string): AclUser | undefined {
    return this.byName.get(name);
  }

  /** Sorted by name, as Redis keeps them (a rax): ACL LIST and ACL USERS order. */
  sorted(): AclUser[] {
    return [...this.byName.values()].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  }

  /** A new client starts as `default`: authenticated iff it is on and nopass (Redis's rule). */
  get defaultAuthenticated(): boolean {
    const d = this.defaultUser;
    return d.enabled && d.nopass;
  }
}

/** Shape and rule problems of `users:` (used by config validation and fromConfig). */
export function userConfigProblems(password: string, users: readonly UserConfig[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  users.forEach((u, i) => {
    const where = `users: entry ${i + 1}${typeof u?.name === 'string' ? ` ("${u.name}")` : ''}`;
    if (!u || typeof u !== 'object' || typeof u.name !== 'string' || typeof u.rules !== 'string') {
      problems.push(`${where}: must be { name: "...", rules: "on >secret ~app:* +@read" }`);
      return;
    }
    if (!USER_NAME.test(u.name)) problems.push(`${where}: name must be 1-128 characters without spaces or quotes`);
    if (seen.has(u.name)) problems.push(`${where}: the user "${u.name}" is listed twice`);
    seen.add(u.name);
    if (u.name === 'default' && password !== '') problems.push(`${where}: set the default user's password in its rules (">secret") or in "password", not both`);
    try {
      userFromRules(u.name, u.rules);
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
  });
  return problems;
}
