/**
 * Loading a config: read the file (YAML or JSON), reject unknown keys, overlay environment
 * overrides (KVSTORE_*), validate each key (schema.ts) and then the keys together
 * (validate.ts). Every problem found is reported at once, one per line, in a ConfigError.
 */
import convict from 'convict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { ConfigError } from '../errors';
import { addFormats, schema } from './schema';
import type { KvstoreConfig } from './types';
import { crossKeyProblems } from './validate';

export interface LoadOptions {
  /** Environment for KVSTORE_* overrides; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Directory relative stateDir is resolved against (default: the config file's directory, else cwd). */
  baseDir?: string;
}

/** Read and validate a config file. Throws ConfigError naming the file and every problem. */
export function loadConfigFile(file: string, options: LoadOptions = {}): KvstoreConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a directory' : e.message;
    throw new ConfigError(`${file}: cannot read the config (${why})`);
  }
  let raw: unknown;
  try {
    raw = parseConfigText(text, file);
  } catch (err) {
    throw new ConfigError(`${file}: ${(err as Error).message}`);
  }
  try {
    return parseConfig(raw, { ...options, baseDir: options.baseDir ?? path.dirname(path.resolve(file)) });
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${file}: invalid config:\n${err.message}`);
    throw err;
  }
}

/** YAML for .yaml/.yml (and anything else: YAML is a superset of JSON), JSON for .json. */
export function parseConfigText(text: string, file = 'config.yaml'): unknown {
  if (file.endsWith('.json')) {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new Error(`not valid JSON: ${(err as Error).message}`);
    }
  }
  try {
    return yaml.load(text, { filename: file });
  } catch (err) {
    const e = err as yaml.YAMLException;
    const where = e.mark ? ` at line ${e.mark.line + 1}, column ${e.mark.column + 1}` : '';
    throw new Error(`not valid YAML${where}: ${e.reason ?? e.message}`);
  }
}

/** Validate an already-parsed config object (file contents) plus environment overrides. */
export function parseConfig(raw: unknown, options: LoadOptions = {}): KvstoreConfig {
  addFormats();
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError('the config must be a mapping of keys (listen, shards, ...) at the top level');

  // Report every problem at once: structure first, then each key (unknown keys set aside).
  const problems: string[] = [];
  const known = structureProblems(raw as Record<string, unknown>, schema as unknown as SchemaNode, '', problems);
  const conf = convict(schema, { env: options.env ?? process.env, args: [] });
  conf.load(known);
  try {
    conf.validate({ allowed: 'strict', output: () => undefined });
  } catch (err) {
    // (sections that were not mappings were left out of `known`, so convict checks their defaults)
    for (const line of (err as Error).message.split('\n')) {
      // keep the offending value when it is short enough to read
      problems.push(line.replace(/: value was (.*)$/, (_m, v: string) => (v.length <= 60 ? `; got ${v}` : '')));
    }
  }
  if (problems.length) throw new ConfigError(problems.map((p) => `  - ${p}`).join('\n'));
  const config = conf.getProperties() as unknown as KvstoreConfig;
  config.shards = config.shards.map((s) => ({ name: s.name, master: s.master, replicas: [...(s.replicas ?? [])] }));
  config.stateDir = path.resolve(options.baseDir ?? process.cwd(), config.stateDir);

  const cross = crossKeyProblems(config);
  if (cross.length) throw new ConfigError(cross.map((p) => `  - ${p}`).join('\n'));
  return config;
}

/** `workers: auto` → one per core. */
export function resolveWorkerCount(config: KvstoreConfig): number {
  if (config.workers === 'auto') return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
  return config.workers;
}

/** A config with the secrets blanked, for logs and the admin API. */
export function redactConfig(config: KvstoreConfig): KvstoreConfig {
  const copy = structuredClone(config);
  if (copy.password) copy.password = '***';
  if (copy.backend.password) copy.backend.password = '***';
  if (copy.coordination?.etcd.password) copy.coordination.etcd.password = '***';
  return copy;
}

type SchemaNode = { [key: string]: SchemaNode | { default: unknown } };

function isLeaf(node: unknown): boolean {
  return typeof node === 'object' && node !== null && 'default' in node;
}

/**
 * Unknown keys (with a suggestion) and scalars where a section belongs go to `problems`; returns
 * the known part of `raw`, which convict then checks key by key.
 */
function structureProblems(raw: Record<string, unknown>, node: SchemaNode, prefix: string, problems: string[]): Record<string, unknown> {
  const known: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const full = prefix + key;
    const child = Object.prototype.hasOwnProperty.call(node, key) ? node[key] : undefined;
    if (child === undefined) {
      const hint = suggest(key, Object.keys(node));
      problems.push(`${full}: unknown key${hint ? `; did you mean "${prefix}${hint}"?` : ''} (known here: ${Object.keys(node).join(', ')})`);
      continue;
    }
    if (isLeaf(child)) {
      known[key] = value;
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      problems.push(`${full}: must be a section with keys ${Object.keys(child).join(', ')}; got ${JSON.stringify(value)}`);
      continue;
    }
    known[key] = structureProblems(value as Record<string, unknown>, child as SchemaNode, `${full}.`, problems);
  }
  return known;
}

function suggest(key: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(key.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}
