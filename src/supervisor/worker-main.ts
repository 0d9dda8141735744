/** Entry point of a worker process (the supervisor forks this file). */
import { createLogger } from '../log';
import { runWorker, WorkerProxy } from './worker';
import type { KvstoreConfig } from '../config/types';
import type { TopologySnapshot } from '../topology/types';

// Loaded by path so the supervisor, admin and CLI build and test without the data path.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { ProxyServer } = require('../proxy/ProxyServer') as {
  ProxyServer: new (options: { config: KvstoreConfig; topology: TopologySnapshot; logger?: unknown }) => WorkerProxy;
};

runWorker((options) => new ProxyServer({ ...options, logger: createLogger('proxy') }));
