/** Entry point of a worker process (the supervisor forks this file). */
import { createLogger } from '../log';
import { ProxyServer } from '../proxy/ProxyServer';
import { runWorker } from './worker';

runWorker((options) => new ProxyServer({ ...options, logger: createLogger('proxy') }));
