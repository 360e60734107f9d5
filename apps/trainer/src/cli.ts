import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, MAX_SOURCE_WEIGHT, type TrainerConfigInput } from './config';

export const USAGE = `Usage: nx run trainer:train [-- options]

  --preset default|smoke         sizes and budgets (default: default)
  --config FILE.json             options as JSON (same keys as resolved config.json)
  --stages data,pretrain,sft,rerank   stages to run, comma-separated (default: all)
  --seed N                       seed for data, splits and mixtures
  --backend auto|tensorflow-gpu|tensorflow|wasm|cpu
  --from DIR                     start from an existing model instead of pre-training: a Hugging Face model
                                 directory, a run directory (its tuned/ model) or, with --stages rerank, a reranker
  --collection DIR               a BEIR collection for the rerank stage (adapted with synthetic queries from its
                                 documents, evaluated on its judged queries); repeatable
  --resume RUN_DIR               continue a stopped or killed run from its last checkpoint
  --output-dir DIR               where run directories go (default: runs)
  --data FILE[:WEIGHT]           extra instruction data (JSON/JSONL, any format); repeatable
  --replay-weight W              share of pre-training prose replayed in the mixture (0 = none)
  --pretrain-exposures N         biographies per country in the pre-training prose
  --held-out-fraction F          share of countries held out of instruction tuning
  --vocab-size N                 tokenizer vocabulary
  --max-length N                 tokens per sequence (packed row length)
  --masking all_assistant|last_assistant|all
  --no-packing                   pad each example instead of packing
  --truncation truncate|drop|error
  --on-error stop|skip           what to do with bad rows
  --set KEY=VALUE                any config key by path, e.g. --set data.pretrainStyle=plain
  --debug                        print an error's stack trace
  --help`;

/** Turns command-line flags into a partial config; unknown flags are errors. */
export function parseFlags(argv: string[]): { flags: TrainerConfigInput; configFile?: string; help: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        preset: { type: 'string' },
        config: { type: 'string' },
        stages: { type: 'string' },
        seed: { type: 'string' },
        backend: { type: 'string' },
        from: { type: 'string' },
        resume: { type: 'string' },
        collection: { type: 'string', multiple: true },
        'output-dir': { type: 'string' },
        data: { type: 'string', multiple: true },
        'replay-weight': { type: 'string' },
        'pretrain-exposures': { type: 'string' },
        'held-out-fraction': { type: 'string' },
        'vocab-size': { type: 'string' },
        'max-length': { type: 'string' },
        masking: { type: 'string' },
        'no-packing': { type: 'boolean' },
        truncation: { type: 'string' },
        'on-error': { type: 'string' },
        set: { type: 'string', multiple: true },
        debug: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}\n\n${USAGE}`);
  }
  const v = parsed.values;
  const flags: Record<string, unknown> = {};
  const put = (key: string, value: unknown) => {
    if (value === undefined) return;
    const parts = key.split('.');
    let node = flags;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[parts.at(-1)!] = value;
  };
  const num = (name: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isFinite(n)) throw new ConfigError(`--${name}: expected a number, got "${text}"`);
    return n;
  };
  put('preset', v.preset);
  put(
    'stages',
    v.stages
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  put('seed', num('seed', v.seed));
  put('outputDir', v['output-dir']);
  put('backend', v.backend);
  put('from', v.from);
  put('resume', v.resume);
  put('rerank.collections', v.collection);
  put('data.sources', v.data?.map(parseSource));
  put('data.replayWeight', num('replay-weight', v['replay-weight']));
  put('data.pretrainExposures', num('pretrain-exposures', v['pretrain-exposures']));
  put('data.heldOutFraction', num('held-out-fraction', v['held-out-fraction']));
  put('data.onError', v['on-error']);
  put('tokenizer.vocabSize', num('vocab-size', v['vocab-size']));
  put('sequence.maxLength', num('max-length', v['max-length']));
  put('sequence.masking', v.masking);
  put('sequence.packing', v['no-packing'] ? false : undefined);
  put('sequence.truncation', v.truncation);
  for (const assignment of v.set ?? []) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--set ${assignment}: expected KEY=VALUE`);
    put(assignment.slice(0, eq), parseValue(assignment.slice(eq + 1)));
  }
  return { flags: flags as TrainerConfigInput, configFile: v.config, help: v.help ?? false };
}

/**
 * `--data FILE[:WEIGHT]`. A file whose own name has a colon is taken whole when it exists; otherwise the text after
 * the last colon is the weight, a number in (0, MAX_SOURCE_WEIGHT].
 */
function parseSource(spec: string): { path: string; weight?: number } {
  const colon = spec.lastIndexOf(':');
  if (colon < 0 || existsSync(spec)) return { path: spec };
  const [file, text] = [spec.slice(0, colon), spec.slice(colon + 1)];
  const weight = text.trim() === '' ? NaN : Number(text);
  if (!(weight > 0 && weight <= MAX_SOURCE_WEIGHT))
    throw new ConfigError(
      `--data ${spec}: the weight "${text}" is not a number in (0, ${MAX_SOURCE_WEIGHT}]; ` +
        'write FILE:WEIGHT (e.g. my.jsonl:0.5), or FILE alone for weight 1',
    );
  return { path: file, weight };
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
