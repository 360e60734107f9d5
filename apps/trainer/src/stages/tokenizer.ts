import { access } from 'node:fs/promises';
import path from 'node:path';
import { buildFactRetrieval, type DefaultCorpus } from '@tunekit/corpora';
import { TextTokenizer, saveTokenizer, trainByteLevelBpe } from '@tunekit/data';
import { DEFAULT_FORMAT } from '@tunekit/rerank';
import type { TrainerConfig } from '../config';
import { log } from '../progress';
import type { RunContext } from '../run-context';
import type { DataSummary } from './data';

/**
 * The run's tokenizer: the `--from` model's, the one a resumed run saved (its checkpoints' token ids mean that
 * tokenizer's tokens, whatever the code now trains), or a byte-level BPE trained on pre-training prose and
 * instruction text.
 */
export async function stageTokenizer(
  ctx: RunContext,
  corpus: DefaultCorpus,
  from: TextTokenizer | undefined,
): Promise<{ tokenizer: TextTokenizer; summary: DataSummary['tokenizer'] }> {
  const { config } = ctx;
  const started = Date.now();
  const dir = ctx.path('tokenizer');
  const hasSaved =
    Boolean(config.resume) &&
    !from &&
    (await access(path.join(dir, 'tokenizer.json')).then(
      () => true,
      () => false,
    ));
  const saved = hasSaved ? await TextTokenizer.fromDirectory(dir) : undefined;
  const given = from ?? saved;
  const texts = given ? [] : tokenizerTexts(config, corpus);
  const tokenizer =
    given ??
    trainByteLevelBpe(texts, { vocabSize: config.tokenizer.vocabSize, modelMaxLength: config.sequence.maxLength });
  if (!saved) await saveTokenizer(tokenizer, dir);
  const seconds = (Date.now() - started) / 1000;
  log(
    given
      ? `tokenizer: from ${saved ? `the run's tokenizer/ (resumed)` : config.from}, ${tokenizer.vocabSize} tokens`
      : `tokenizer: byte-level BPE, ${tokenizer.vocabSize} tokens, trained on ${texts.length} texts in ` +
          `${seconds.toFixed(1)}s`,
  );
  return { tokenizer, summary: { vocabSize: tokenizer.vocabSize, trainedOnDocuments: texts.length, seconds } };
}

function tokenizerTexts(config: TrainerConfig, corpus: DefaultCorpus): string[] {
  return [
    ...corpus.pretraining({
      exposures: config.tokenizer.trainExposures,
      seed: config.seed + 1,
      style: config.data.pretrainStyle,
    }),
    ...corpus.train.flatMap((c) => c.messages.map((m) => m.content)),
    ...(config.stages.includes('rerank') ? rerankTexts(config) : []),
  ];
}

/**
 * What the reranker will read, for the tokenizer: its fixed wording (as often as a training run
 * repeats it, so it gets whole-word tokens) and the retrieval collection's passages and questions.
 */
function rerankTexts(config: TrainerConfig): string[] {
  const facts = buildFactRetrieval({ seed: config.seed, heldOutFraction: config.data.heldOutFraction });
  const frame = `${DEFAULT_FORMAT.system}\n<Instruct>: ${DEFAULT_FORMAT.defaultInstruction}\n<Query>: \n<Document>: `;
  return [
    ...Array.from({ length: 200 }, () => frame),
    ...[...facts.corpus.values()].map((d) => d.text),
    ...[...facts.train.queries.values()].map((q) => q.text),
    ...facts.train.pairs.flatMap((p) => [p.query, p.original.instruction, p.altered.instruction]),
  ];
}
