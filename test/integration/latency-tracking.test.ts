/**
 * latencyTracking (Redis: latency-tracking): with it off the proxy keeps no latency histograms,
 * so INFO latencystats has its header only; turned on by a config reload, commands are counted.
 */
import test from 'ava';
import { startProxy } from '../helpers/proxy';

test('latencyTracking false: INFO latencystats empty; on again after a reload, commands counted', async (t) => {
  const started = await startProxy(t, { shards: 1, config: { latencyTracking: false } });
  const c = started.client();
  for (let i = 0; i < 20; i++) await c.set(`l${i}`, 'v');
  t.is(await c.info('latencystats'), '# Latencystats\r\n');
  started.proxy.applyConfig({ ...started.config, latencyTracking: true });
  await c.get('l1');
  t.regex((await c.info('latencystats')) as string, /^# Latencystats\r\nlatency_percentiles_usec_get:p50=\d+\.\d{3},p99=/);
  t.notRegex((await c.info('latencystats')) as string, /latency_percentiles_usec_set:/, 'nothing counted while off');
});
