/**
 * The manual page made from the command line's help (src/man-page.ts),
 * which the Debian package installs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import { buildProgram } from '../src/cli.js';
import { manPage } from '../src/man-page.js';

const OPTS = { version: '1.2.3', date: '2026-12-06', docDir: '/usr/share/doc/x/' };

describe('manual page', () => {
  const page = manPage(buildProgram(), OPTS);

  it('has a section per command and subcommand, each with its help', () => {
    const sections = [...page.matchAll(/^\.SS (.*)$/gm)].map((m) => m[1].replace(/\\-/g, '-'));
    assert.deepEqual(sections, [
      'check-config', 'demo', 'simulate', 'lame-cloud', 'cloudtest',
      'instances', 'instances list', 'instances hold', 'instances drain', 'instances run', 'instances kill',
      'containers', 'containers list', 'containers why', 'containers kill',
    ]);
    assert.ok(page.includes('Usage: arvados\\-dispatch\\-cloud instances hold [options] <instance\\-id...>'), 'the subcommand usage, minus signs escaped');
    // The global options once, under OPTIONS, not in every command's section.
    assert.equal(page.match(/\\-\\-cluster <id>/g)?.length, 1);
  });

  it('lists the environment variables the daemon reads, those of its drivers and of the dispatch lock among them', () => {
    const env = page.slice(page.indexOf('.SH ENVIRONMENT'), page.indexOf('.SH "EXIT STATUS"')).replace(/\\-/g, '-');
    for (const name of ['ARVADOS_CONFIG', 'ARVADOS_DISPATCH_CLOUD_SETTINGS', 'LOG_LEVEL', 'SSL_CERT_DIR', 'AWS_REGION', 'AWS_CA_BUNDLE', 'GCE_METADATA_HOST', 'PGHOST', 'PGPASSWORD']) {
      assert.ok(env.includes(name), `ENVIRONMENT names ${name}`);
    }
  });

  it('escapes what roff would read otherwise: backslashes, and a line that starts with a dot', () => {
    const program = new Command('tool').description('Does things.');
    program.command('sub').description('.hidden start and a \\ backslash');
    const text = manPage(program, OPTS);
    assert.ok(text.includes('\\&.hidden start and a \\e backslash'), text);
    assert.match(text, /^tool \\- does things$/m);
    assert.match(text, /^\.TH "TOOL" 1 "2026\\-12\\-06" "tool 1\.2\.3" "User Commands"$/m);
  });

  it('every line fits an 80-column terminal, and man reads it without a warning (where man is installed)', function () {
    const man = spawnSync('man', ['--warnings', '-E', 'UTF-8', '-l', '-'], { input: page, encoding: 'utf8', env: { ...process.env, MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat', LC_ALL: 'C.UTF-8' } });
    if (man.error) this.skip();
    assert.equal(man.status, 0, man.stderr);
    assert.equal(man.stderr, '');
    const long = man.stdout.split('\n').filter((l) => l.length > 80);
    assert.deepEqual(long, []);
    assert.match(man.stdout, /^EXIT STATUS$/m);
  });
});
