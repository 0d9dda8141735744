/** Command-line options of `npm run bench -- [options]`. */
export interface SuiteOptions {
  quick: boolean;
  reps: number;
  /** divides the full-run request counts */
  scale: number;
  systems: string[] | null;
  workloads: string[] | null;
  pipelines: number[];
  distribution: 'ketama' | 'modula';
  name: string;
  outDir: string | null;
  /** write Kvstore CPU profiles (node --cpu-prof, every worker) into this directory */
  profileDir: string | null;
  /** extra node arguments for Kvstore (e.g. --perf-basic-prof for perf) */
  kvstoreNodeArgs: string[];
  /** another checkout measured in the same run as system "baseline" (1 worker), for before/after */
  baseline: string | null;
  /** another checkout (or bin/kvstore.js) to run as Kvstore instead of this one */
  kvstore: string | null;
  /** YAML files appended to the generated config of Kvstore / the baseline (e.g. a feature off) */
  kvstoreConfig: string | null;
  baselineConfig: string | null;
  /** overall bound on the measuring phase, seconds */
  maxSeconds: number;
  /** run the one-huge-MSET case (lib/bigMset.ts) instead of the redis-benchmark cells */
  bigMset: boolean;
  /** > 0: run the idle-connections benchmark (benchmarks/connections.ts) with this many clients instead */
  connections: number;
  help: boolean;
}

export const USAGE = `usage: npm run bench -- [options]
  --quick               one repetition, 1/3 of the requests (about a minute)
  --reps N              repetitions per cell (default 3; 1 with --quick)
  --scale X             divide the request counts by X (default 1; 3 with --quick)
  --systems a,b         among redis,twemproxy,kvstore-1,kvstore-auto (default all)
  --workloads a,b       among set,get,mset10,mget10 (default all)
  --pipelines 1,16      pipeline depths (default 1,16)
  --distribution D      Twemproxy distribution: ketama (default) or modula
  --name NAME           output file names in benchmarks/results (default latest; quick with --quick)
  --out DIR             output directory (default benchmarks/results)
  --profile DIR         run Kvstore under node --cpu-prof, profiles written to DIR/<system>/
  --kvstore PATH        run another checkout's Kvstore (its dir or its bin/kvstore.js)
  --baseline PATH       also measure another checkout's Kvstore (1 worker) as "baseline": before/after in one run
  --kvstore-config F   YAML file appended to Kvstore's generated config (e.g. \`hotKeys: {sampleRate: 0}\`)
  --baseline-config F  the same for the baseline: \`--baseline . --baseline-config off.yaml\` measures a
                        setting on vs off in one run
  --kvstore-node-args A node arguments for Kvstore, e.g. "--perf-basic-prof" (workers inherit them)
  --max-seconds N       stop measuring after N seconds (default 1500)
  --big-mset            instead: one MSET of 500,000 keys (~30 MB) per run, direct Redis vs Kvstore
                        (--systems redis,kvstore-1 and --baseline apply; writes big-mset.{json,md})
  --connections N       instead: memory per idle client (N clients), Kvstore vs Twemproxy (and --baseline),
                        and how 4,000 connections spread over 2 workers (npm run bench:connections -- --help)`;

export function parseOptions(argv: string[]): SuiteOptions {
  const o: SuiteOptions = {
    quick: false,
    reps: 0,
    scale: 0,
    systems: null,
    workloads: null,
    pipelines: [1, 16],
    distribution: 'ketama',
    name: '',
    outDir: null,
    profileDir: null,
    kvstore: null,
    kvstoreConfig: null,
    baselineConfig: null,
    kvstoreNodeArgs: [],
    baseline: null,
    maxSeconds: 1500,
    bigMset: false,
    connections: 0,
    help: false,
  };
  const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    const positive = (v: string): number => {
      const n = Number(v);
      if (!(n > 0)) throw new Error(`${arg} needs a positive number, got ${v}`);
      return n;
    };
    switch (arg) {
      case '--quick': o.quick = true; break;
      case '--reps': o.reps = Math.floor(positive(value())); break;
      case '--scale': o.scale = positive(value()); break;
      case '--systems': o.systems = list(value()); break;
      case '--workloads': o.workloads = list(value()); break;
      case '--pipelines': o.pipelines = list(value()).map(positive); break;
      case '--distribution': {
        const d = value();
        if (d !== 'ketama' && d !== 'modula') throw new Error(`--distribution must be ketama or modula, got ${d}`);
        o.distribution = d;
        break;
      }
      case '--name': o.name = value(); break;
      case '--out': o.outDir = value(); break;
      case '--profile': o.profileDir = value(); break;
      case '--kvstore': o.kvstore = value(); break;
      case '--baseline': o.baseline = value(); break;
      case '--kvstore-config': o.kvstoreConfig = value(); break;
      case '--baseline-config': o.baselineConfig = value(); break;
      case '--kvstore-node-args': o.kvstoreNodeArgs = value().split(/\s+/).filter(Boolean); break;
      case '--max-seconds': o.maxSeconds = positive(value()); break;
      case '--big-mset': o.bigMset = true; break;
      case '--connections': o.connections = Math.floor(positive(value())); break;
      case '-h': case '--help': o.help = true; break;
      default: throw new Error(`unknown option ${arg}\n${USAGE}`);
    }
  }
  if (!o.reps) o.reps = o.quick ? 1 : 3;
  if (!o.scale) o.scale = o.quick ? 3 : 1;
  if (!o.name) o.name = o.quick ? 'quick' : 'latest';
  return o;
}
