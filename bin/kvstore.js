#!/usr/bin/env node
'use strict';
// The `kvstore` command (package.json "bin"; `bin/kvstore` in the release tarball).
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('kvstore: not built yet; run `npm run build` first\n');
  process.exit(1);
}
require(entry)
  .main(process.argv.slice(2))
  .then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`kvstore: ${(err && err.stack) || err}\n`);
      process.exit(1);
    },
  );
