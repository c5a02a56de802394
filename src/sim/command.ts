/**
 * `arvados-dispatch-cloud simulate`: runs a workload through the real
 * dispatcher on a simulated cloud and controller (`engine.ts`), prints a
 * summary, and writes the JSON report and the timeline plot when asked.
 * The dispatcher's own log (level warn unless told otherwise) goes to a file.
 */
import type { WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../config/index.js';
import { openLogFile, openOutputFile, type OutputFile } from '../output-file.js';
import { loadSettingsFile, type Settings } from '../config/settings.js';
import { parseDuration } from '../config/units.js';
import { runSimulation } from './engine.js';
import { renderTimelineSVG } from './plot.js';
import { buildReport } from './report.js';
import { formatDuration, formatSummary } from './summary.js';
import { loadWorkload } from './workload.js';

export interface SimulateOptions {
  config: string;
  cluster?: string;
  workload: string;
  report?: string;
  plot?: string;
  seed?: number;
  /** Simulated-time limit, Go duration ("48h"). */
  limit?: string;
  log?: string;
  logLevel?: string;
  /** Progress lines on stderr, once a simulated hour. */
  progress?: boolean;
  /** This daemon's own settings file for the simulated dispatcher. */
  settings?: string;
  /**
   * Whether the settings file was named (flag or environment). Only then is
   * it read: a simulation should not change with whatever happens to be at
   * the default path.
   */
  settingsExplicit?: boolean;
}

export async function runSimulateCommand(opts: SimulateOptions): Promise<number> {
  const err = process.stderr;
  let limitMs: number | undefined;
  try {
    limitMs = opts.limit === undefined ? undefined : parseDuration(opts.limit);
  } catch (e) {
    err.write(`simulate: --limit: ${(e as Error).message}\n`);
    return 2;
  }
  let cluster;
  let workload;
  let settings: Settings | undefined;
  try {
    ({ cluster } = loadConfigFile(opts.config, { clusterId: opts.cluster }));
    if (opts.settingsExplicit && opts.settings) settings = loadSettingsFile(opts.settings, { explicit: true }).settings;
    workload = loadWorkload(opts.workload, { seed: opts.seed });
  } catch (e) {
    err.write(`simulate: ${(e as Error).message}\n`);
    return 2;
  }
  const logPath = opts.log ?? join(tmpdir(), `arvados-dispatch-cloud-simulate-${process.pid}.log`);
  let logStream: WriteStream;
  let reportFile: OutputFile | undefined;
  let plotFile: OutputFile | undefined;
  try {
    reportFile = opts.report ? openOutputFile(opts.report, 'report file') : undefined;
    plotFile = opts.plot ? openOutputFile(opts.plot, 'plot file') : undefined;
    logStream = openLogFile(logPath);
  } catch (e) {
    reportFile?.close();
    plotFile?.close();
    err.write(`simulate: ${(e as Error).message}\n`);
    return 2;
  }
  const withSettings = settings ? ` with settings ${opts.settings}` : '';
  process.stdout.write(`Simulating ${opts.workload} on ${opts.config}${withSettings}; dispatcher log (level ${opts.logLevel ?? 'warn'}): ${logPath}\n`);
  try {
    const result = await runSimulation({
      cluster,
      workload,
      seed: opts.seed,
      limitMs,
      settings,
      log: { stream: logStream, level: opts.logLevel ?? 'warn' },
      onProgress: opts.progress
        ? (p) => err.write(`  ${formatDuration(p.simMs)}: ${p.submitted} submitted, ${p.final} final, ${p.vms} VMs\n`)
        : undefined,
    });
    const report = buildReport(result);
    reportFile?.write(JSON.stringify(report, null, 2) + '\n');
    plotFile?.write(renderTimelineSVG(report.timeline, { title: `${report.workload.name} (seed ${report.workload.seed})` }));
    process.stdout.write(formatSummary(report));
    return report.finished ? 0 : 1;
  } finally {
    reportFile?.close();
    plotFile?.close();
    await new Promise<void>((resolve) => logStream.end(resolve));
  }
}
