/** Typed errors of the security layer (ACL rules, users, TLS files). */
import { ConfigError } from '../errors';

/** An ACL rule Redis would refuse (`ACL SETUSER` answers the same reason). */
export class AclRuleError extends ConfigError {
  constructor(readonly rule: string, readonly reason: string) {
    super(`Error in ACL SETUSER modifier '${rule}': ${reason}`);
  }
}

/** A certificate, key or CA file could not be read or used. */
export class TlsConfigError extends ConfigError {}
