/** `kvstore ctl health`, `ctl reload`, `ctl metrics`: thin wrappers over the admin API. */
import { registerCtlCommand } from '../registry';

registerCtlCommand({
  name: 'health',
  summary: 'check that the proxy is up (GET /health)',
  usage: '[--json]',
  async run(ctx) {
    const h = await ctx.admin.get('/health');
    ctx.out(ctx.json ? JSON.stringify(h, null, 2) : `${h.status}: epoch ${h.epoch}, ${h.workers} worker(s) ready`);
    return h.status === 'ok' ? 0 : 1;
  },
});

registerCtlCommand({
  name: 'reload',
  summary: 're-read the config file and apply what can change live (POST /reload)',
  usage: '[--json]',
  async run(ctx) {
    const r = await ctx.admin.post('/reload');
    if (ctx.json) ctx.out(JSON.stringify(r, null, 2));
    else {
      ctx.out(`reloaded: epoch ${r.epoch}; applied: ${r.applied.join(', ') || 'nothing changed'}`);
      for (const w of r.warnings ?? []) ctx.err(`warning: ${w}`);
    }
    return 0;
  },
});

registerCtlCommand({
  name: 'metrics',
  summary: 'print the Prometheus metrics (GET /metrics)',
  async run(ctx) {
    ctx.out((await ctx.admin.text('/metrics')).trimEnd());
    return 0;
  },
});
