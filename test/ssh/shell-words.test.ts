import assert from 'node:assert/strict';
import { parseCommandLine, ShellParseError, shellWord } from '../../src/ssh/shell-words.js';
import { shellQuote } from '../../src/ssh/util.js';
import { withSudo } from '../../src/arvados/crunch-run.js';

const AWKWARD = [
  '',
  ' ',
  "'",
  "''",
  "it's",
  'a b  c',
  '"double"',
  '\\',
  'back\\slash\\',
  '$HOME',
  '`date`',
  '$(rm -rf /)',
  'semi;colon && pipe | amp &',
  'new\nline',
  'tab\there',
  '*?[glob]',
  '~tilde',
  'unicode: é ✓ 漢字',
  "'\\''",
  '--runtime-engine=docker',
  'VAR=value',
];

/** A deterministic pseudo-random string over characters the shell cares about. */
function randomAwkward(seed: number): string {
  const alphabet = `ab '"\\$\`;&|<>()\n\t*?~=-é`;
  let s = '';
  let x = seed;
  const len = seed % 17;
  for (let i = 0; i < len; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += alphabet[x % alphabet.length];
  }
  return s;
}

describe('ssh/shell-words: quoting', () => {
  it('shellQuote single-quotes and escapes quotes as the reference does', () => {
    assert.equal(shellQuote('abc'), `'abc'`);
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
    assert.equal(shellQuote(''), `''`);
  });

  it('round-trips awkward strings through shellQuote and parseCommandLine', () => {
    for (const s of AWKWARD) {
      assert.deepEqual(parseCommandLine(shellQuote(s)).argv, [s], JSON.stringify(s));
    }
    for (let seed = 1; seed < 300; seed++) {
      const words = [randomAwkward(seed), randomAwkward(seed * 7 + 3), randomAwkward(seed * 13 + 1)];
      const line = ['cmd', ...words.map(shellQuote)].join(' ');
      assert.deepEqual(parseCommandLine(line).argv, ['cmd', ...words], JSON.stringify(line));
    }
  });

  it('shellWord leaves plain words bare and quotes the rest', () => {
    assert.equal(shellWord('zzzzz-dz642-012345678901234'), 'zzzzz-dz642-012345678901234');
    assert.equal(shellWord('/tmp/arvados-crunch-run/crunch-run~0123abcd'), '/tmp/arvados-crunch-run/crunch-run~0123abcd');
    assert.equal(shellWord('~root'), `'~root'`);
    assert.equal(shellWord('a b'), `'a b'`);
    for (const s of AWKWARD) assert.deepEqual(parseCommandLine(`x ${shellWord(s)}`).argv, ['x', s]);
  });

  it('withSudo prefixes sudo unless the user is root', () => {
    assert.equal(withSudo('crunch-run --list', 'crunch'), 'sudo crunch-run --list');
    assert.equal(withSudo('crunch-run --list', 'root'), 'crunch-run --list');
  });

  it('shellWord quotes the characters a shell would expand or treat as syntax', () => {
    for (const c of ['*', '?', '[', ']', '{', '}', '!', '#', '^', '&', ';', '|', '<', '>', '(', ')', '$', '`', "'", '"', '\\', ' ', '\t', '\n']) {
      assert.equal(shellWord(`a${c}b`), shellQuote(`a${c}b`), JSON.stringify(c));
    }
  });
});

describe('ssh/shell-words: parseCommandLine', () => {
  it('strips sudo and env prefixes, before or after sudo', () => {
    assert.deepEqual(parseCommandLine(`A='1' sudo B='two words' crunch-run --list`), {
      argv: ['crunch-run', '--list'],
      env: { A: '1', B: 'two words' },
      sudo: true,
    });
    assert.deepEqual(parseCommandLine('sudo -n true'), { argv: ['true'], env: {}, sudo: true });
    assert.deepEqual(parseCommandLine(`X="a \\"b\\"" echo X=y`), { argv: ['echo', 'X=y'], env: { X: 'a "b"' }, sudo: false });
  });

  it('keeps quoted assignments and later NAME=value words as arguments', () => {
    assert.deepEqual(parseCommandLine(`'A=1' cmd B=2`).argv, ['A=1', 'cmd', 'B=2']);
  });

  it('handles concatenated quoting and backslashes', () => {
    assert.deepEqual(parseCommandLine(`a'b'"c"\\ d e`).argv, ['abc d', 'e']);
  });

  it('refuses shell syntax it does not emulate', () => {
    for (const bad of ['a; b', 'a && b', 'a | b', 'a > f', 'echo $HOME', 'echo `x`', "echo 'open", 'echo "open', 'echo "$x"', 'x\\']) {
      assert.throws(() => parseCommandLine(bad), ShellParseError, bad);
    }
  });

  it('refuses a newline, input redirection and parentheses, which make more than one simple command or not a simple one', () => {
    for (const bad of ['a\nb', 'a < f', '(a', 'a)']) {
      assert.throws(() => parseCommandLine(bad), ShellParseError, JSON.stringify(bad));
    }
  });

  it('splits words at tabs, joins lines at a backslash-newline, and unescapes \\\\ inside double quotes, as sh does', () => {
    assert.deepEqual(parseCommandLine('a\tb').argv, ['a', 'b']);
    assert.deepEqual(parseCommandLine('a\\\nb c').argv, ['ab', 'c']);
    assert.deepEqual(parseCommandLine('echo "a\\\\b" "c\\d"').argv, ['echo', 'a\\b', 'c\\d']);
  });

  it('reads assignments as sh does: the last of a name wins, and a name cannot begin with a digit', () => {
    assert.deepEqual(parseCommandLine('A=1 A=2 cmd'), { argv: ['cmd'], env: { A: '2' }, sudo: false });
    assert.deepEqual(parseCommandLine('1A=x cmd'), { argv: ['1A=x', 'cmd'], env: {}, sudo: false });
  });

  it('takes a word whose name part is quoted or escaped as a word, not an assignment, as sh does; a quoted value is still one', () => {
    for (const cmd of [`"A"=1 cmd`, `'A'=1 cmd`, `\\A=1 cmd`, `A"B"=1 cmd`, `x'A'=1 cmd`]) {
      assert.deepEqual(parseCommandLine(cmd).env, {}, cmd);
      assert.equal(parseCommandLine(cmd).argv.length, 2, cmd);
    }
    assert.deepEqual(parseCommandLine(`A="x y" B='z' cmd`), { argv: ['cmd'], env: { A: 'x y', B: 'z' }, sudo: false });
  });

  it('skips every flag given to sudo', () => {
    assert.deepEqual(parseCommandLine('sudo -n -E crunch-run --list'), { argv: ['crunch-run', '--list'], env: {}, sudo: true });
  });
});

