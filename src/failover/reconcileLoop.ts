/**
 * How both failover engines are driven: a pass on every health transition, and one every
 * health interval anyway (a missed event or a half-done pass is picked up by the next).
 */
import type { BackendHealth, HealthChecker } from './HealthChecker';

/** Starts the loop; returns the function that stops it. */
export function startReconcileLoop(
  health: HealthChecker,
  intervalMs: number,
  pass: () => void,
  onChange: (address: string, h: BackendHealth) => void = () => pass(),
): () => void {
  health.on('change', onChange);
  const timer = setInterval(pass, intervalMs);
  timer.unref?.();
  return () => {
    health.off('change', onChange);
    clearInterval(timer);
  };
}
