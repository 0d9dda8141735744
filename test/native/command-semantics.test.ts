/**
 * One source for command semantics: src/commands/commands.json. Its routing class and merge kind
 * must be what src/commands/routing.ts says (the generator's input), and exactly what the native
 * engine, the TypeScript reference and the proxy's dispatch table use. Each test fails when one
 * of them disagrees (a stale commands.json, a list written down again somewhere).
 */
import test from 'ava';
import { classify } from '../../src/commands/routing';
import { commands, commandId } from '../../src/commands/table';
import { MERGE_KIND_CODE, ROUTING_CODE } from '../../src/native/api';
import { commandRoutes } from '../../src/proxy/CommandRoutes';
import { nativeEngine, referenceEngine, resp } from './native-setup';

test('commands.json is what routing.ts says (else: npm run build && node dist/scripts/gen-command-table.js)', (t) => {
  const stale = commands.filter((c) => {
    const now = classify(c);
    return now.routing !== c.routing || now.merge !== c.merge || now.reason !== c.reason;
  });
  t.deepEqual(stale.map((c) => c.name), []);
});

test('a merge kind for every split command and for no other', (t) => {
  const split = commands.filter((c) => c.routing === 'split');
  t.true(split.length >= 6);
  t.deepEqual(split.filter((c) => !c.merge).map((c) => c.name), []);
  t.deepEqual(commands.filter((c) => c.merge && c.routing !== 'split').map((c) => c.name), []);
  t.is(commands[commandId('mget')].merge, 'array');
  t.is(commands[commandId('mset')].merge, 'allok');
  t.is(commands[commandId('del')].merge, 'sum');
});

test('native engine, reference and dispatch table take routing class and merge kind from commands.json', (t) => {
  const engines = { native: nativeEngine(), reference: referenceEngine() };
  const routes = commandRoutes().routes;
  t.is(routes.length, commands.length);
  const wrong: string[] = [];
  commands.forEach((c, id) => {
    const expected: [number, number] = [ROUTING_CODE[c.routing], c.merge ? MERGE_KIND_CODE[c.merge] : 0];
    for (const [name, e] of Object.entries(engines)) {
      const got = e.hp.commandInfo(id);
      if (got === null || got[0] !== expected[0] || got[1] !== expected[1]) wrong.push(`${name} ${c.name}: ${JSON.stringify(got)} != ${JSON.stringify(expected)}`);
    }
    // The dispatcher's own route refines the class for a few commands (SORT's option checks).
    const refined = routes[id].route !== routes[id].tableRoute;
    if (routes[id].name !== c.name || (routes[id].tableRoute as number) !== expected[0] || (refined && !['sort', 'sort_ro'].includes(c.name))) {
      wrong.push(`dispatch ${c.name}: route ${routes[id].route} (class ${routes[id].tableRoute})`);
    }
  });
  t.deepEqual(wrong, []);
  for (const name of ['sort', 'sort_ro']) t.not(routes[commandId(name)].route, routes[commandId(name)].tableRoute, `${name} has its own dispatch route`);
  t.is(engines.native.hp.commandInfo(commands.length), null);
  t.is(engines.reference.hp.commandInfo(-1), null);
});

test('split follows the merge kind of commands.json, and refuses commands without one', (t) => {
  const multiKey = commands.filter((c) => c.keySpecs.length > 0 && c.arity < 0 && !c.container && !c.name.includes('|'));
  for (const [name, e] of Object.entries({ native: nativeEngine(), reference: referenceEngine() })) {
    let splitCount = 0;
    for (const c of multiKey) {
      // Keys and values alternate so both MSET-shaped and key-list commands parse.
      const wire = resp(c.name, '{a}1', 'v', '{b}2', 'w', '{c}3', 'x');
      if (e.hp.parseRequests(wire, 0) !== 1) continue;
      if (c.merge) {
        e.hp.split(wire, 0);
        t.is(e.plan[1], MERGE_KIND_CODE[c.merge], `${name} ${c.name}`);
        t.true(e.plan[0] >= 1 && e.plan[0] <= 3, `${name} ${c.name}: ${e.plan[0]} sub-commands over 3 shards`);
        splitCount++;
      } else {
        t.throws(() => e.hp.split(wire, 0), undefined, `${name} ${c.name} is not split in commands.json`);
      }
    }
    t.is(splitCount, commands.filter((c) => c.merge).length, name);
  }
});
