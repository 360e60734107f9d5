import { REFUSAL_MARKERS, type InstructionMeta } from '@tunekit/corpora';
import { Rng, type ChatTemplate, type Conversation, type TextTokenizer } from '@tunekit/data';
import { generate, type Llama } from '@tunekit/model';

/** One held-out prompt: the conversation up to the last assistant turn, and what a good answer holds. */
export interface EvalItem {
  id: string;
  task: InstructionMeta['task'];
  messages: Conversation['messages'];
  /** The value a correct answer contains (question answering). */
  answer?: string;
  reference: string;
}

export interface ScoredAnswer {
  id: string;
  task: string;
  prompt: string;
  output: string;
  expected: string | null;
  /** Questions: the first sentence holds the expected value; formats: the format is right; refusals: refused. */
  correct: boolean;
  /** Questions only: the expected value appears anywhere in the output. */
  lenient?: boolean;
}

/** Held-out prompts by kind: questions (one phrasing per fact), format requests, harmful and out-of-scope requests. */
export function heldOutItems(
  conversations: readonly Conversation[],
  options: { questions: number; seed: number },
): Record<'qa' | 'format' | 'harmful' | 'outOfScope', EvalItem[]> {
  const rng = new Rng(options.seed);
  const item = (c: Conversation): EvalItem => {
    const meta = c.meta as InstructionMeta;
    const lastAssistant = c.messages.findLastIndex((m) => m.role === 'assistant');
    return {
      id: c.source ?? '',
      task: meta.task,
      messages: c.messages.slice(0, lastAssistant),
      answer: meta.answer,
      reference: c.messages[lastAssistant].content,
    };
  };
  const by = (task: string) => conversations.filter((c) => (c.meta as InstructionMeta).task === task);
  // one random phrasing per (entity, attribute)
  const groups = new Map<string, Conversation[]>();
  for (const c of by('qa')) {
    const meta = c.meta as InstructionMeta;
    const key = `${meta.entities[0]}:${meta.attribute}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  let qa = [...groups.values()].map((g) => item(rng.pick(g)));
  if (options.questions > 0 && qa.length > options.questions) qa = rng.shuffle(qa).slice(0, options.questions);
  const cap = (list: EvalItem[]) =>
    options.questions > 0 ? list.slice(0, Math.max(4, Math.round(options.questions / 4))) : list;
  return {
    qa,
    format: cap(['json', 'bullets', 'table'].flatMap((t) => by(t).map(item))),
    harmful: by('refusal_harmful').map(item),
    outOfScope: cap(by('refusal_out_of_scope').map(item)),
  };
}

/** Greedy answers to chat prompts, generated in batches of similar length; special tokens stripped. */
export function answer(
  model: Llama,
  tokenizer: TextTokenizer,
  template: ChatTemplate,
  items: readonly EvalItem[],
  o: { batch: number; maxNewTokens: number },
): string[] {
  const prompts = items.map((it) => tokenizer.encode(template.render(it.messages, { addGenerationPrompt: true })));
  const order = prompts.map((_, i) => i).sort((a, b) => prompts[a].length - prompts[b].length);
  const outputs = new Array<string>(items.length);
  const stop = [tokenizer.eosId, tokenizer.tokenToId('<|endoftext|>')].filter((t): t is number => t !== undefined);
  for (let i = 0; i < order.length; i += o.batch) {
    const chunk = order.slice(i, i + o.batch);
    const { tokens } = generate(
      model,
      chunk.map((k) => prompts[k]),
      { maxNewTokens: o.maxNewTokens, stopTokens: stop, padId: tokenizer.padId },
    );
    chunk.forEach((k, j) => (outputs[k] = tokenizer.decode(tokens[j], { skipSpecialTokens: true }).trim()));
  }
  return outputs;
}

const normalise = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();

/** The answer proper: the output up to the end of its first sentence or line (later text is rambling). */
export function firstSentence(output: string): string {
  const line = output.trim().split('\n')[0];
  const end = /[.!?](?=\s+[\p{Lu}\d+])/u.exec(line);
  return end ? line.slice(0, end.index + 1) : line;
}

/** Exact or normalised-contains match of the expected value. */
export function containsAnswer(output: string, expected: string): boolean {
  const o = ` ${normalise(output)} `;
  return o.includes(` ${normalise(expected)} `);
}

export function isRefusal(output: string): boolean {
  return REFUSAL_MARKERS.some((m) => output.includes(m));
}

/** Whether the output has the format the prompt asked for. */
export function followsFormat(task: string, output: string): boolean {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (task === 'json') {
    try {
      const v = JSON.parse(output);
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    } catch {
      return false;
    }
  }
  if (task === 'bullets') return lines.length >= 2 && lines.every((l) => /^[-*•] \S/.test(l));
  if (task === 'table')
    return (
      lines.length >= 3 && lines.every((l) => l.startsWith('|') && l.endsWith('|')) && /^\|[\s:-]+\|/.test(lines[1])
    );
  return false;
}

export interface InstructionEval {
  /** accuracy: first sentence holds the answer; lenient: anywhere in the output. */
  heldout: { accuracy: number; lenientAccuracy: number; correct: number; total: number; refused: number };
  format: { compliance: number; byTask: Record<string, number>; total: number };
  refusals: { harmful: number; outOfScope: number; wronglyRefused: number };
  examples: ScoredAnswer[];
}

/** Asks one model every held-out prompt and scores the answers. */
export function evaluateInstructions(
  model: Llama,
  tokenizer: TextTokenizer,
  template: ChatTemplate,
  items: ReturnType<typeof heldOutItems>,
  o: { batch: number; maxNewTokens: number },
): InstructionEval {
  const all = [...items.qa, ...items.format, ...items.harmful, ...items.outOfScope];
  const outputs = answer(model, tokenizer, template, all, o);
  const examples: ScoredAnswer[] = all.map((it, i) => {
    const output = outputs[i];
    const base = { id: it.id, task: it.task, prompt: it.messages.at(-1)!.content, output, expected: it.answer ?? null };
    if (it.task === 'qa')
      return {
        ...base,
        correct: containsAnswer(firstSentence(output), it.answer!),
        lenient: containsAnswer(output, it.answer!),
      };
    return {
      ...base,
      correct: ['json', 'bullets', 'table'].includes(it.task) ? followsFormat(it.task, output) : isRefusal(output),
    };
  });
  const of = (task: (t: string) => boolean) => examples.filter((e) => task(e.task));
  const share = (list: ScoredAnswer[], f: (e: ScoredAnswer) => boolean) =>
    list.length ? list.filter(f).length / list.length : 0;
  const qa = of((t) => t === 'qa');
  const format = of((t) => ['json', 'bullets', 'table'].includes(t));
  return {
    heldout: {
      accuracy: share(qa, (e) => e.correct),
      lenientAccuracy: share(qa, (e) => e.lenient === true),
      correct: qa.filter((e) => e.correct).length,
      total: qa.length,
      refused: qa.filter((e) => isRefusal(e.output)).length,
    },
    format: {
      compliance: share(format, (e) => e.correct),
      total: format.length,
      byTask: Object.fromEntries(
        ['json', 'bullets', 'table'].map((t) => [
          t,
          share(
            of((x) => x === t),
            (e) => e.correct,
          ),
        ]),
      ),
    },
    refusals: {
      harmful: share(
        of((t) => t === 'refusal_harmful'),
        (e) => e.correct,
      ),
      outOfScope: share(
        of((t) => t === 'refusal_out_of_scope'),
        (e) => e.correct,
      ),
      wronglyRefused: share(qa, (e) => isRefusal(e.output)),
    },
    examples,
  };
}
