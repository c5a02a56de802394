/**
 * `Containers.CrunchRunArgumentsList` and `Containers.RuntimeEngine`, read
 * as crunch-run on a VM will read them: the dispatcher puts the list between
 * `--runtime-engine=ENGINE` and the container UUID of every start, so one
 * bad word, or an engine crunch-run does not know, fails every start on
 * every VM, and the queue drains into cancelled containers. Neither the
 * reference nor crunch-run looks at them before then; this says what
 * crunch-run would do, as warnings (a crunch-run newer than this check may
 * have a flag or an engine it does not know, so the daemon still starts).
 */
import { flagName, isBoolFlag, parseCrunchRunArgs, RUNTIME_ENGINES } from '../arvados/crunch-run-args.js';
import { crunchRunDetachCommandArgs } from '../arvados/crunch-run.js';

/** A UUID of the right form, standing for every container the dispatcher starts. */
const SOME_UUID = 'zzzzz-dz642-000000000000000';

/** How crunch-run ends when its arguments after the flags are not exactly the UUID. */
const MISSING_UUID = 'missing required argument: container-uuid';

/**
 * What crunch-run would do with `Containers.RuntimeEngine` `engine`, as a
 * warning; undefined for one it runs containers with.
 */
export function runtimeEngineProblem(engine: string): string | undefined {
  if (RUNTIME_ENGINES.includes(engine)) return undefined;
  return `${quote(engine)} is no engine crunch-run knows (${RUNTIME_ENGINES.join(' or ')}): it would exit with "unsupported RuntimeEngine" before running each container, which is then unlocked and tried again until the controller cancels it (MaxDispatchAttempts)`;
}

/**
 * What crunch-run would do with `list` on every start, as warnings for
 * `Containers.CrunchRunArgumentsList`; empty when it would run the container.
 */
export function crunchRunArgumentsProblems(list: readonly string[], runtimeEngine: string): string[] {
  if (list.length === 0) return [];
  const command = crunchRunDetachCommandArgs(runtimeEngine, list, SOME_UUID);
  // Where the list begins in the command: after the dispatcher's own flags.
  const first = command.length - 1 - list.length;
  // A value flag at the end of the list takes the UUID as its value.
  const noValue = `${quote(list[list.length - 1])} ends the list without its value, so crunch-run would take the container UUID as the value and refuse every start`;
  let args;
  try {
    args = parseCrunchRunArgs(command);
  } catch (err) {
    const message = (err as Error).message;
    return [message.includes(SOME_UUID) ? `${noValue} (exit 2)` : `crunch-run would refuse every start (exit 2): ${message}`];
  }
  if (args.help) return [`${quote(command[args.flagsEnd])} makes crunch-run print its usage and exit at every start, running no container`];
  if (args.version) return ['-version makes crunch-run print its version and exit at every start, running no container'];
  if (args.positional.length === 0) return [`${noValue} (${MISSING_UUID})`];
  if (args.positional.length > 1) return [strayWord(list, args.flagsEnd - first)];
  const problems: string[] = [];
  if (args.list) problems.push('-list makes every start list crunch-run processes instead of running the container');
  if (args.kill >= 0) problems.push('-kill makes every start signal a crunch-run process instead of running the container');
  if (!args.detach) problems.push("-detach=false keeps crunch-run in the foreground: every start would hold the dispatcher's SSH session until its container ends");
  if (!args.stdinConfig) problems.push('-stdin-config=false makes crunch-run ignore the config the dispatcher sends (the API host and token among it) and read a config file on the VM');
  const engine = args.runtimeEngine ?? '';
  if (engine !== runtimeEngine) {
    const unknown = runtimeEngineProblem(engine);
    problems.push(`sets the runtime engine to ${quote(engine)}, overriding Containers.RuntimeEngine (${quote(runtimeEngine)}): set RuntimeEngine instead${unknown ? `; and ${unknown}` : ''}`);
  }
  return problems;
}

/** The warning for the word at `i` of the list, which ends crunch-run's flags, so that the UUID is not its only argument. */
function strayWord(list: readonly string[], i: number): string {
  const stray = list[i];
  const before = list[i - 1];
  const boolBefore = before !== undefined && !before.includes('=') && isBoolFlag(flagName(before) ?? '');
  const why = boolBefore
    ? `${quote(before)} is a boolean flag, which takes no separate value, so ${quote(stray)} ends crunch-run's flags`
    : stray === '--'
      ? `"--" ends crunch-run's flags, so what follows it is not read as flags`
      : `${quote(stray)} is not a flag, so it ends crunch-run's flags`;
  const fix = boolBefore ? `: write ${quote(`${before}=${stray}`)}` : '';
  return `${why}, and crunch-run would refuse every start (${MISSING_UUID})${fix}`;
}

function quote(s: string): string {
  return JSON.stringify(s);
}
