#!/usr/bin/env node
// The installed command: the compiled daemon (`npm run build` writes dist/),
// run by plain node with no TypeScript loader. Tests and development run the
// TypeScript sources instead, through scripts/from-sources.mjs.
import { existsSync } from 'node:fs';

// As the reference's binary is named: pidof, pgrep -x, killall and process
// monitors that match by name find the daemon, not a `node`.
process.title = 'arvados-dispatch-cloud';

// package.json's engines, checked before the daemon loads: on an older node it
// would fail later, on a module or syntax error that does not say why. Exit 2:
// the systemd unit does not start it again until the host has a newer node.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  process.stderr.write(`arvados-dispatch-cloud: needs Node.js 20.19 or newer, and ${process.execPath} is ${process.versions.node}\n`);
  process.exit(2);
}

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(`arvados-dispatch-cloud: ${cli.pathname} is missing: run \`npm run build\` (npm ci does it)\n`);
  process.exit(1);
}
const { main } = await import(cli.href);
await main(process.argv);
