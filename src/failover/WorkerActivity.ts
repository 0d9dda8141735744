/**
 * Where the health checkers of this process get the workers' view of a silent server
 * (src/proxy/BackendActivity.ts through the primary's ActivityRelay). Set by the failover
 * plugin's every-proxy part (primary-plugin.ts) as soon as the primary starts, read at each
 * question: the failover manager's checker and, in a fleet, the HealthWitness's checker (created
 * later, by the fleet) use the same workers.
 */
import type { ActivityAnswers } from '../supervisor/messages';
import type { Explainer } from './HealthChecker';

let source: ((addresses: string[], timeoutMs: number) => Promise<ActivityAnswers | null>) | null = null;

/** The primary's workers answer from now on (null: no more). */
export function setWorkerActivitySource(next: typeof source): void {
  source = next;
}

/** Asks this process's workers; null (no evidence) when there are none. */
export const workerExplainer: Explainer = (address, timeoutMs) => (source ? source([address], timeoutMs) : Promise.resolve(null));
