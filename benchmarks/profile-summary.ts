/**
 * `node dist/benchmarks/profile-summary.js DIR|FILE... [--top N]`: self time per function and per
 * file of the .cpuprofile files written by `npm run bench -- --profile DIR`, and the share of
 * the optional per-request work (histograms, hot keys, SLOWLOG, big keys, ACL).
 */
import fs from 'node:fs';
import path from 'node:path';
import { CpuProfile, featureShares, summarizeProfile } from './lib/cpuProfile';

function main(argv: string[]): void {
  let top = 25;
  const inputs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--top') top = Number(argv[++i]);
    else inputs.push(argv[i]);
  }
  const files = inputs.flatMap((p) =>
    fs.statSync(p).isDirectory() ? fs.readdirSync(p).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(p, f)) : [p],
  );
  if (files.length === 0) {
    console.error('usage: profile-summary DIR|FILE... [--top N]');
    process.exit(2);
  }
  for (const file of files) {
    const summary = summarizeProfile(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile);
    console.log(`\n## ${file}: ${(summary.totalMicros / 1e6).toFixed(2)} s busy, ${(summary.idleMicros / 1e6).toFixed(2)} s idle`);
    console.log('\nself time by file:');
    for (const f of summary.files.slice(0, 12)) console.log(`${(f.share * 100).toFixed(1).padStart(6)}%  ${f.name}`);
    console.log('\nself time by function:');
    for (const f of summary.functions.slice(0, top)) console.log(`${(f.share * 100).toFixed(1).padStart(6)}%  ${f.name}`);
    console.log('\noptional per-request work (self time of its functions):');
    for (const g of featureShares(summary)) console.log(`${(g.share * 100).toFixed(2).padStart(6)}%  ${g.group} (${(g.micros / 1000).toFixed(1)} ms)`);
  }
}

main(process.argv.slice(2));
