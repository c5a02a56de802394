#!/usr/bin/env node
// The installed command: the compiled daemon (`npm run build` writes dist/),
// run by plain node with no TypeScript loader. Tests and development run the
// TypeScript sources instead, through scripts/from-sources.mjs.
import { existsSync } from 'node:fs';

// As the reference's binary is named: pidof, pgrep -x, killall and process
// monitors that match by name find the daemon, not a `node`.
process.title = 'arvados-dispatch-cloud';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(`arvados-dispatch-cloud: ${cli.pathname} is missing: run \`npm run build\` (npm ci does it)\n`);
  process.exit(1);
}
const { main } = await import(cli.href);
await main(process.argv);
