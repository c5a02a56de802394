/**
 * The autocert cache's file name for a server name a client sends (SNI):
 * whatever it sends, the name is refused with a ServerNameError or is one
 * file directly in the cache directory, never a path out of it.
 *
 *   FUZZ_RUNS=10000 npx mocha test/fuzz/server-names.test.ts   (or `npm run fuzz`)
 */
import assert from 'node:assert/strict';
import { basename, dirname, join } from 'node:path';
import fc from 'fast-check';
import { cacheName, ServerNameError } from '../../src/http/autocert.js';
import { fuzzParams } from './runs.js';

const DIR = '/var/lib/arvados/tmp/autocert';

/** Server names near the edges: dots, slashes, percent signs, Unicode, case. */
const nameParts = fc.constantFrom('.', '..', '/', '\\', '%2e', '%2f', '\0', '-', 'a', 'B', 'xn--', 'é', 'ﬁ', '．', '。', '∕', ' ', 'example', 'com', '*');
const serverName = fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.array(nameParts, { maxLength: 12 }).map((parts) => parts.join('')));

describe('fuzz: autocert cache names from client server names', () => {
  it('refuses a name with a ServerNameError or gives one file inside the cache directory', () => {
    fc.assert(
      fc.property(serverName, (name) => {
        let file: string;
        try {
          file = cacheName(name);
        } catch (err) {
          assert.ok(err instanceof ServerNameError, `${JSON.stringify(name)}: ${String(err)}`);
          return;
        }
        assert.match(file, /^[a-z0-9.-]+$/, JSON.stringify(name));
        for (const suffix of ['', '+rsa']) {
          const path = join(DIR, file + suffix);
          assert.equal(dirname(path), DIR, `${JSON.stringify(name)} -> ${path}`);
          assert.equal(basename(path), file + suffix, `${JSON.stringify(name)} -> ${path}`);
        }
      }),
      fuzzParams(2000),
    );
  });
});
