#!/usr/bin/env node
// The command run from the TypeScript sources through tsx's loader, without
// a build: what the tests spawn, so that they always run the sources as they
// are now rather than a dist/ that may be older. The installed command is
// bin/arvados-dispatch-cloud.mjs, which runs the compiled code.
import { register } from 'tsx/esm/api';

// Named as the installed command names itself (bin/arvados-dispatch-cloud.mjs).
process.title = 'arvados-dispatch-cloud';

register();
const { main } = await import('../src/cli.ts');
await main(process.argv);
