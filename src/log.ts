import pino, { Logger } from 'pino';

/**
 * Structured logging (pino, JSON lines on stderr). Level from KVSTORE_LOG_LEVEL, default `info`;
 * tests run silent unless KVSTORE_LOG_LEVEL is set.
 */
const defaultLevel = process.env.KVSTORE_LOG_LEVEL ?? (process.env.AVA_PATH || process.env.NODE_ENV === 'test' ? 'silent' : 'info');

export const rootLogger: Logger = pino({ level: defaultLevel, base: { pid: process.pid } }, pino.destination(2));

export function createLogger(component: string): Logger {
  return rootLogger.child({ component });
}

export type { Logger };
