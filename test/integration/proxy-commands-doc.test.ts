/** docs/commands.md is generated from the command table and must be kept in sync with it. */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { renderCommandsDoc } from '../../scripts/gen-commands-doc';
import { commands } from '../../src/commands/table';

test('docs/commands.md matches the command table (run npm run docs:commands)', (t) => {
  const file = path.join(__dirname, '..', '..', '..', 'docs', 'commands.md');
  const text = renderCommandsDoc();
  t.is(fs.readFileSync(file, 'utf8'), text);
  for (const c of commands) t.true(text.includes(`| ${c.name.toUpperCase().replace('|', ' ')} |`), c.name);
  t.false(text.includes('not implemented by the proxy yet'));
});
