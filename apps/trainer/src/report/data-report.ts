import type { DataSummary } from '../stages/data';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The data section of report.md. */
export function dataReportMarkdown(d: DataSummary): string {
  const s = d.statistics;
  const row = (name: string, st: (typeof s)['sft']) =>
    `| ${name} | ${st.rows} | ${st.tokens} | ${pct(st.trainableFraction)} | ` +
    `${st.length.min} / ${st.length.p50} / ${st.length.p95} / ${st.length.max} |`;
  const packing = Object.entries(d.packing)
    .filter(([, r]) => r)
    .map(([name, r]) => `| ${name} | ${r!.examples} | ${r!.rows} | ${pct(r!.efficiency)} |`);
  const prep = Object.entries(d.prepare).map(
    ([name, r]) =>
      `| ${name} | ${r.input} | ${r.kept} | ${r.truncated} | ` +
      `${r.skippedByReason.invalid} | ${r.skippedByReason.too_long} | ${r.skippedByReason.untrainable} |`,
  );
  return [
    '## Data',
    '',
    `Countries: ${d.entities.total} (${d.entities.train} with instruction pairs in training, ` +
      `${d.entities.heldOut} held out: their facts appear only in pre-training prose).`,
    `Tokenizer: byte-level BPE, ${d.tokenizer.vocabSize} tokens, ` +
      `trained on ${d.tokenizer.trainedOnDocuments} texts in ${d.tokenizer.seconds.toFixed(1)} s.`,
    '',
    '| dataset | rows | tokens | trainable | length min / p50 / p95 / max |',
    '| --- | ---: | ---: | ---: | --- |',
    row('pre-training', s.pretraining),
    row('instruction mixture', s.sft),
    row('held-out instructions', s.heldOut),
    '',
    '| examples | input | kept | truncated | skipped: invalid | skipped: too long | skipped: untrainable |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...prep,
    '',
    'Mixture: ' +
      d.mixture.sources.map((m) => `${m.name} ${m.taken} of ${m.available} (${pct(m.share)})`).join(', ') +
      '.',
    '',
    ...(packing.length
      ? ['| packed | examples | rows | efficiency |', '| --- | ---: | ---: | ---: |', ...packing, '']
      : []),
    '![pre-training lengths](data/lengths-pretraining.svg) ![instruction lengths](data/lengths-sft.svg)',
    '',
    '### What is trained',
    '',
    'Trained tokens are inside «…»; everything else has label -100.',
    '',
    ...d.samples.flatMap((x) => [`**${x.task}**`, '', '```', x.labels, '```', '']),
  ].join('\n');
}
