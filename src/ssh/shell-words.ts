/**
 * Shell words as the dispatcher writes them on a worker VM's command line,
 * and the parser the other end (the lame cloud's VM, test SSH hosts) reads
 * them back with, so the two can never disagree about quoting.
 */
import { shellQuote } from './util.js';

/** A shell word that needs no quoting (`~` is special only at the start of a word). */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-][A-Za-z0-9_@%+=:,./~-]*$/;

/**
 * `arg` as it is when it needs no quoting (UUIDs, plain paths), else
 * `shellQuote(arg)`. Used where the reference writes an argument bare, so
 * that ordinary values produce the reference's exact command line while an
 * unexpected one still cannot inject shell syntax.
 */
export function shellWord(arg: string): string {
  return SAFE_WORD.test(arg) ? arg : shellQuote(arg);
}

/** A command line the VM could not parse as one simple command. */
export class ShellParseError extends Error {
  override name = 'ShellParseError';
}

export interface ParsedCommand {
  /** The words of the command, quotes removed. */
  argv: string[];
  /** `VAR=value` assignments that preceded the command (before or after `sudo`). */
  env: Record<string, string>;
  /** True when the command was prefixed with `sudo`. */
  sudo: boolean;
}

interface Word {
  text: string;
  /** Index of the first `=` outside quotes, if the word begins with an unquoted NAME=. */
  assignment?: { name: string; value: string };
}

/** Characters that mean something to the shell when unquoted; we refuse to guess at them. */
const OPERATORS = new Set([';', '&', '|', '<', '>', '(', ')', '`', '$', '\n']);

/** What `raw` holds for a quoted or escaped part: not a name character, so such a word never reads as NAME=. */
const QUOTED = '"';

function splitWords(cmd: string): Word[] {
  const words: Word[] = [];
  let i = 0;
  const n = cmd.length;
  while (i < n) {
    while (i < n && (cmd[i] === ' ' || cmd[i] === '\t')) i++;
    if (i >= n) break;
    let text = '';
    let raw = '';
    let assignmentAt = -1;
    while (i < n && cmd[i] !== ' ' && cmd[i] !== '\t') {
      const c = cmd[i];
      if (c === "'") {
        const end = cmd.indexOf("'", i + 1);
        if (end < 0) throw new ShellParseError('unterminated single quote');
        text += cmd.slice(i + 1, end);
        raw += QUOTED;
        i = end + 1;
      } else if (c === '"') {
        i++;
        for (;;) {
          if (i >= n) throw new ShellParseError('unterminated double quote');
          const d = cmd[i];
          if (d === '"') break;
          if (d === '$' || d === '`') throw new ShellParseError(`unsupported ${d} inside double quotes`);
          if (d === '\\' && i + 1 < n && '$`"\\\n'.includes(cmd[i + 1])) {
            if (cmd[i + 1] !== '\n') text += cmd[i + 1];
            i += 2;
          } else {
            text += d;
            i++;
          }
        }
        raw += QUOTED;
        i++;
      } else if (c === '\\') {
        if (i + 1 >= n) throw new ShellParseError('trailing backslash');
        if (cmd[i + 1] !== '\n') text += cmd[i + 1];
        raw += QUOTED;
        i += 2;
      } else if (OPERATORS.has(c)) {
        throw new ShellParseError(`unsupported shell syntax ${JSON.stringify(c)}`);
      } else {
        if (c === '=' && assignmentAt < 0 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(raw)) assignmentAt = text.length;
        text += c;
        raw += c;
        i++;
      }
    }
    const word: Word = { text };
    if (assignmentAt >= 0) word.assignment = { name: text.slice(0, assignmentAt), value: text.slice(assignmentAt + 1) };
    words.push(word);
  }
  return words;
}

/**
 * Parses one simple shell command as the dispatcher writes them: optional
 * `sudo` (with `-n`/`-E` style flags), `NAME=value` assignments before or
 * after it, then words that may be bare, single-quoted (`'\''` included),
 * double-quoted or backslash-escaped, concatenated freely. Throws
 * ShellParseError on anything a real shell would treat as syntax (`;`, `&&`,
 * `|`, redirections, `$`, backquotes, unterminated quotes): the VM answers
 * those with an error instead of guessing.
 */
export function parseCommandLine(cmd: string): ParsedCommand {
  const words = splitWords(cmd);
  const env: Record<string, string> = {};
  let sudo = false;
  let i = 0;
  for (; i < words.length; i++) {
    const w = words[i];
    if (w.assignment) {
      env[w.assignment.name] = w.assignment.value;
    } else if (w.text === 'sudo' && !sudo) {
      sudo = true;
      while (i + 1 < words.length && /^-[a-zA-Z]+$/.test(words[i + 1].text)) i++;
    } else {
      break;
    }
  }
  return { argv: words.slice(i).map((w) => w.text), env, sudo };
}
