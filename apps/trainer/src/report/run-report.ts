import { writeFile } from 'node:fs/promises';
import type { TrainerConfig } from '../config';
import type { MetricPoint, RunContext } from '../run-context';
import type { DataSummary } from '../stages/data';
import type { PretrainResult } from '../stages/pretrain';
import type { RerankResult } from '../stages/rerank';
import type { SftResult } from '../stages/sft';
import { dataReportMarkdown } from './data-report';
import { rerankReportJson, rerankReportMarkdown } from './rerank-report';
import { lineChartSvg } from './svg';

const pct = (x: number | undefined) => (x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);

/** report.json: the run's numbers, with the evaluation keys under sft.eval. */
export function buildReport(
  ctx: RunContext,
  o: {
    seconds: number;
    backend: unknown;
    data?: DataSummary;
    pretrain?: PretrainResult['summary'];
    pretrainPlain?: PretrainResult['summary'];
    sft?: SftResult;
    rerank?: RerankResult;
    registry?: unknown;
  },
) {
  const e = o.sft?.evals;
  const sftEval = e && {
    heldout: Object.fromEntries(Object.entries(e).map(([k, v]) => [k === 'sft' ? 'tuned' : k, v.heldout])),
    format: Object.fromEntries(Object.entries(e).map(([k, v]) => [k === 'sft' ? 'tuned' : k, v.format])),
    refusals: Object.fromEntries(Object.entries(e).map(([k, v]) => [k === 'sft' ? 'tuned' : k, v.refusals])),
    ablation: {
      response_only: { accuracy: e.sft.heldout.accuracy },
      ...(e.train_on_all ? { train_on_all: { accuracy: e.train_on_all.heldout.accuracy } } : {}),
      ...(e.no_replay ? { no_replay: { accuracy: e.no_replay.heldout.accuracy } } : {}),
    },
    ...(e.plain_prose
      ? {
          augmentation: {
            augmented: { base: e.base.heldout.accuracy, tuned: e.sft.heldout.accuracy },
            plain: { base: e.base_plain?.heldout.accuracy, tuned: e.plain_prose.heldout.accuracy },
          },
        }
      : {}),
    forgetting: {
      ppl_before: e.base.perplexity,
      ppl_after: e.sft.perplexity,
      rise: e.sft.perplexity / e.base.perplexity - 1,
      replay: ctx.config.data.replayWeight > 0,
      ...(e.no_replay
        ? {
            ppl_after_no_replay: e.no_replay.perplexity,
            rise_no_replay: e.no_replay.perplexity / e.base.perplexity - 1,
          }
        : {}),
      lora: ctx.config.sft.lora.enabled,
    },
  };
  return {
    run: ctx.dir.split('/').at(-1),
    preset: ctx.config.preset,
    stages: ctx.config.stages,
    seconds: o.seconds,
    backend: o.backend,
    data: o.data,
    ...(o.pretrain ? { pretrain: o.pretrain } : {}),
    ...(o.pretrainPlain ? { pretrainPlain: o.pretrainPlain } : {}),
    ...(o.sft ? { sft: { runs: o.sft.runs, eval: sftEval, samples: o.sft.samples } } : {}),
    ...(o.rerank ? { rerank: rerankReportJson(o.rerank) } : {}),
    registry: o.registry,
  };
}

export type RunReport = ReturnType<typeof buildReport>;

/** Loss curves as SVG files next to the report; returns their names. */
export async function writeCharts(ctx: RunContext, metrics: MetricPoint[]): Promise<string[]> {
  const series = (stage: string, name: string) =>
    metrics.filter((p) => p.stage === stage && p.name === name).map((p) => [p.step, p.value] as [number, number]);
  const written: string[] = [];
  const stages = [...new Set(metrics.map((p) => p.stage))];
  for (const stage of stages) {
    const train = series(stage, 'loss');
    if (train.length === 0) continue;
    const evals = series(stage, 'eval_loss');
    const file = `loss-${stage}.svg`;
    await writeFile(
      ctx.path(file),
      lineChartSvg(
        `${stage}: loss`,
        [{ name: 'train', points: train }, ...(evals.length ? [{ name: 'eval', points: evals }] : [])],
        'step',
        'cross-entropy',
      ),
    );
    written.push(file);
  }
  return written;
}

export function reportMarkdown(config: TrainerConfig, r: RunReport, charts: string[], rerank?: RerankResult): string {
  const b = r.backend as { name: string; reason: string; skipped?: { name: string; reason: string }[] };
  const skipped = b.skipped?.length ? `; skipped ${b.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}` : '';
  const out: string[] = [
    `# Run ${r.run}`,
    '',
    `Preset \`${config.preset}\`, stages ${config.stages.join(', ')}, ${(r.seconds / 60).toFixed(1)} min. ` +
      `Backend: ${b.name} (${b.reason}${skipped}).`,
    '',
  ];
  if (r.pretrain) {
    const p = r.pretrain;
    out.push(
      '## Pre-training',
      '',
      `${p.parameters.toLocaleString('en')} parameters, ${p.steps} steps of ${p.tokensPerStep} tokens, ` +
        `${Math.round(p.tokensPerSecond)} tokens/s, ${(p.seconds / 60).toFixed(1)} min. ` +
        `Final loss ${p.finalLoss.toFixed(3)}; held-out prose perplexity ${p.perplexity.toFixed(2)}.`,
      '',
    );
  }
  if (r.sft?.eval) {
    const ev = r.sft.eval;
    const models = Object.keys(ev.heldout);
    out.push('## Instruction tuning', '');
    out.push('| run | steps | tokens/s | final loss | held-out eval loss |', '| --- | ---: | ---: | ---: | ---: |');
    for (const [name, s] of Object.entries(r.sft.runs))
      out.push(
        `| ${name} | ${s.steps} | ${Math.round(s.tokensPerSecond)} | ` +
          `${s.finalLoss.toFixed(3)} | ${s.evalLoss?.toFixed(3) ?? '—'} |`,
      );
    out.push(
      '',
      '### 1. Questions about held-out countries',
      '',
      'Their instruction pairs were never trained on; their facts appear only in the pre-training prose. ' +
        'Accuracy: the first sentence of the answer contains the expected value (normalised); ' +
        'lenient: the value appears anywhere in the output (a model that rambles through every fact gets credit).',
      '',
    );
    out.push('| model | accuracy | correct / asked | lenient |', '| --- | ---: | ---: | ---: |');
    for (const m of models)
      out.push(
        `| ${m} | ${pct(ev.heldout[m].accuracy)} | ${ev.heldout[m].correct} / ${ev.heldout[m].total} | ` +
          `${pct(ev.heldout[m].lenientAccuracy)} |`,
      );
    out.push(
      '',
      '### 2. Format compliance and refusals',
      '',
      '| model | JSON | bullets | table | harmful refused | out-of-scope refused | ordinary wrongly refused |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const m of models) {
      const { json, bullets, table } = ev.format[m].byTask;
      const { harmful, outOfScope, wronglyRefused } = ev.refusals[m];
      out.push(
        `| ${m} | ${pct(json)} | ${pct(bullets)} | ${pct(table)} | ` +
          `${pct(harmful)} | ${pct(outOfScope)} | ${pct(wronglyRefused)} |`,
      );
    }
    out.push(
      '',
      '### 3. Masking ablation (same budget)',
      '',
      '| loss on | held-out accuracy |',
      '| --- | ---: |',
      `| response only | ${pct(ev.ablation.response_only.accuracy)} |`,
    );
    if (ev.ablation.train_on_all) out.push(`| every token | ${pct(ev.ablation.train_on_all.accuracy)} |`);
    if (ev.augmentation) {
      const { augmented, plain } = ev.augmentation;
      out.push(
        '',
        '### Augmentation ablation: how the facts were stated in pre-training',
        '',
        '| pre-training prose | tuned held-out accuracy |',
        '| --- | ---: |',
        `| several paraphrases, shuffled order, full name in every sentence | ${pct(augmented.tuned)} |`,
        `| one fixed template, name only in the first sentence | ${pct(plain.tuned)} |`,
      );
    }
    const f = ev.forgetting;
    const tuned = `tuned${f.replay ? ' (with replay)' : ''}${f.lora ? ', LoRA' : ''}`;
    out.push(
      '',
      '### 4. Forgetting: perplexity on held-out pre-training prose',
      '',
      '| model | perplexity | rise |',
      '| --- | ---: | ---: |',
      `| base | ${f.ppl_before.toFixed(3)} | |`,
      `| ${tuned} | ${f.ppl_after.toFixed(3)} | ${pct(f.rise)} |`,
    );
    if (f.ppl_after_no_replay !== undefined)
      out.push(`| tuned without replay | ${f.ppl_after_no_replay.toFixed(3)} | ${pct(f.rise_no_replay)} |`);
    out.push('', '### Samples: the same prompt to the base and the tuned model', '');
    for (const s of r.sft.samples)
      out.push(
        `**${s.prompt.split('\n')[0]}**`,
        '',
        `- base: \`${s.base.replace(/\n/g, '⏎').slice(0, 200)}\``,
        `- tuned: \`${s.tuned.replace(/\n/g, '⏎').slice(0, 200)}\``,
        '',
      );
  }
  if (rerank) out.push(rerankReportMarkdown(rerank));
  if (charts.length) out.push('## Loss curves', '', ...charts.map((c) => `![${c}](${c})`), '');
  if (r.data) out.push(dataReportMarkdown(r.data));
  return out.join('\n');
}
