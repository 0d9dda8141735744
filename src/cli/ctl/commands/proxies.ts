/** `kvstore ctl proxies [--json]`: every live proxy of the fleet (GET /proxies; coordination only). */
import { registerCtlCommand, table } from '../registry';

interface ProxyEntry {
  id: string;
  address: string;
  admin: string;
  epoch: number;
  leader: boolean;
  leaseAgeMs: number | null;
}

registerCtlCommand({
  name: 'proxies',
  summary: 'list the live proxies of the fleet: id, address, admin, epoch, leader, lease age (GET /proxies)',
  usage: '[--json]',
  async run(ctx) {
    const { proxies } = await ctx.admin.get<{ proxies: ProxyEntry[] }>('/proxies');
    if (ctx.json) ctx.out(JSON.stringify({ proxies }, null, 2));
    else {
      ctx.out(table(['ID', 'ADDRESS', 'ADMIN', 'EPOCH', 'LEADER', 'LEASE AGE'], proxies.map((p) => [p.id, p.address, p.admin, String(p.epoch), p.leader ? 'yes' : '', p.leaseAgeMs === null ? '-' : `${p.leaseAgeMs} ms`])));
    }
    return 0;
  },
});
