export * from './types';
export { loadConfigFile, parseConfig, parseConfigText, resolveWorkerCount, redactConfig } from './load';
export { parseAddress, formatAddress, addressProblem } from './address';
