import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { DataError } from '@tunekit/data';
import { parseFlags, USAGE } from './cli';
import { ConfigError, resolveConfig } from './config';
import { log } from './progress';
import { dataReportMarkdown } from './report/data-report';
import { runDataStage } from './stages/data';

async function main(argv: string[]): Promise<void> {
  const { flags, configFile, help } = parseFlags(argv);
  if (help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = await resolveConfig(flags, configFile);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
  const runDir = path.resolve(config.outputDir, `${stamp}-${config.preset}`);
  await mkdir(runDir, { recursive: true });
  await writeFile(path.join(runDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  log(`run ${runDir} (preset ${config.preset}, stages ${config.stages.join(', ')}, host ${hostname()})`);

  const started = Date.now();
  const data = await runDataStage(config, runDir);
  const report = {
    run: path.basename(runDir),
    preset: config.preset,
    stages: config.stages,
    seconds: (Date.now() - started) / 1000,
    data: data.summary,
  };
  await writeFile(path.join(runDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  const markdown = [`# Run ${report.run}`, '', `Preset \`${config.preset}\`, stages ${config.stages.join(', ')}, ${report.seconds.toFixed(1)} s.`, '', dataReportMarkdown(data.summary)].join('\n');
  await writeFile(path.join(runDir, 'report.md'), markdown);
  process.stdout.write(`report: ${path.join(runDir, 'report.md')}\n`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // A user's mistake gets its message, not a stack trace.
  if (err instanceof ConfigError || err instanceof DataError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
});
