/**
 * No import cycles in src/ (type-only imports count too: a cycle of types is still two files
 * that cannot be read, changed or tested apart). Checked with madge on the TypeScript sources,
 * after a check that madge finds a cycle we plant, so this test cannot pass by finding nothing.
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

interface MadgeResult {
  circular(): string[][];
  obj(): Record<string, string[]>;
}
// madge ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const madge = require('madge') as (dir: string, options: object) => Promise<MadgeResult>;

const REPO = path.resolve(__dirname, '..', '..', '..');
const OPTIONS = { fileExtensions: ['ts'], tsConfig: path.join(REPO, 'tsconfig.json') };

test('madge finds a planted cycle, type-only imports included', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvstore-cycles-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'a.ts'), "import type { B } from './b';\nexport interface A { b: B }\n");
  fs.writeFileSync(path.join(dir, 'b.ts'), "import { c } from './c';\nexport interface B { n: number }\nexport const x = c;\n");
  fs.writeFileSync(path.join(dir, 'c.ts'), "import type { A } from './a';\nexport const c = 1;\nexport type C = A;\n");
  const result = await madge(dir, OPTIONS);
  t.deepEqual(result.circular(), [['a.ts', 'b.ts', 'c.ts']]);
});

test('no import cycles in src/', async (t) => {
  const result = await madge(path.join(REPO, 'src'), OPTIONS);
  // The graph is the real one: the data path's files and their edges are in it.
  const graph = result.obj();
  t.true(Object.keys(graph).length > 50);
  t.true(graph['proxy/ProxyServer.ts']?.includes('proxy/ClientConnection.ts'));
  t.true(graph['proxy/FanOut.ts']?.includes('proxy/ReplyTarget.ts'));
  t.true(graph['proxy/ProxyCommands.ts']?.includes('keyrewrite/keyNameCommands.ts'));
  const cycles = result.circular();
  t.deepEqual(cycles, [], `import cycles: ${cycles.map((c) => c.join(' > ')).join('; ')}`);
});
