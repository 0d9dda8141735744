/**
 * `kvstore start`: run the supervisor until SIGTERM/SIGINT (drain, exit 0); SIGHUP reloads the
 * config (a refused file is logged and the running config kept). Workers ignore these signals:
 * Ctrl-C reaches the whole process group and the primary orchestrates the drain.
 */
import { Supervisor } from './Supervisor';

export async function runPrimary(configFile: string): Promise<Supervisor> {
  const supervisor = new Supervisor({ configFile });
  const stop = (signal: string) => {
    supervisor.logger.info({ signal }, 'signal received');
    supervisor.shutdown().then(
      () => process.exit(0),
      (err) => {
        supervisor.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    supervisor.reload().catch((err) => supervisor.logger.error({ err: err.message }, 'reload refused; keeping the running config'));
  });
  try {
    await supervisor.start();
  } catch (err) {
    supervisor.logger.error({ err: (err as Error).message }, 'cannot start');
    process.stderr.write(`kvstore: cannot start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  return supervisor;
}
