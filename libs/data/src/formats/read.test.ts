import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Conversation } from '../conversation';
import { DataError } from '../errors';
import { readDataset, streamDataset } from './read';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'formats-'));
});

async function file(name: string, text: string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, text);
  return p;
}

const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const messagesOf = (e: { kind: string; conversation?: Conversation }) => e.conversation!.messages;

describe('reading instruction formats', () => {
  it('normalises messages, prompt/completion, alpaca and sharegpt to one conversation type', async () => {
    const expected = [
      { role: 'user', content: 'What is the capital of Peru?' },
      { role: 'assistant', content: 'Lima.' },
    ];
    const sources = {
      'messages.jsonl': { messages: expected },
      'pc.jsonl': { prompt: 'What is the capital of Peru?', completion: 'Lima.' },
      'alpaca.jsonl': { instruction: 'What is the capital of Peru?', input: '', output: 'Lima.' },
      'sharegpt.jsonl': {
        conversations: [
          { from: 'human', value: 'What is the capital of Peru?' },
          { from: 'gpt', value: 'Lima.' },
        ],
      },
    };
    for (const [name, row] of Object.entries(sources)) {
      const { examples, report } = await readDataset(await file(name, jsonl([row])));
      expect(messagesOf(examples[0] as never)).toEqual(expected);
      expect(report).toMatchObject({ rows: 1, kept: 1, skipped: [] });
    }
  });

  it('keeps alpaca input, system prompts, multi-turn and per-message train flags', async () => {
    const { examples } = await readDataset(
      await file(
        'mixed.jsonl',
        jsonl([{ instruction: 'Translate.', input: 'Bonjour', output: 'Hello', system: 'Be exact.' }]),
      ),
    );
    expect(messagesOf(examples[0] as never)).toEqual([
      { role: 'system', content: 'Be exact.' },
      { role: 'user', content: 'Translate.\n\nBonjour' },
      { role: 'assistant', content: 'Hello' },
    ]);
    const chat = await readDataset(
      await file(
        'turns.jsonl',
        jsonl([
          {
            messages: [
              { role: 'user', content: 'a' },
              { role: 'assistant', content: 'b', train: false },
              { role: 'user', content: 'c' },
              { role: 'assistant', content: 'd' },
            ],
          },
        ]),
      ),
    );
    expect(messagesOf(chat.examples[0] as never)[1]).toEqual({ role: 'assistant', content: 'b', train: false });
  });

  it('conversational prompt/completion never trains the prompt', async () => {
    const { examples } = await readDataset(
      await file(
        'pcc.jsonl',
        jsonl([{ prompt: [{ role: 'user', content: 'Hi' }], completion: [{ role: 'assistant', content: 'Hello' }] }]),
      ),
    );
    expect(messagesOf(examples[0] as never)).toEqual([
      { role: 'user', content: 'Hi', train: false },
      { role: 'assistant', content: 'Hello' },
    ]);
  });

  it('reports a bad row as file:line: field: message and stops by default', async () => {
    const p = await file(
      'bad.jsonl',
      jsonl([
        {
          messages: [
            { role: 'user', content: 'Hi' },
            { role: 'assistant', content: 'Hello' },
          ],
        },
        {
          messages: [
            { role: 'user', content: 'Hi' },
            { role: 'robot', content: 'Hello' },
          ],
        },
      ]),
    );
    const err = await readDataset(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).message).toMatch(
      /bad\.jsonl:2: messages\[1\]\.role: must be "system", "user" or "assistant"/,
    );
  });

  it("refuses ShareGPT roles that only an object's prototype knows (toString, __proto__, constructor)", async () => {
    const turn = (from: string) => ({
      conversations: [
        { from, value: 'Hi' },
        { from: 'gpt', value: 'Hello' },
      ],
    });
    const p = await file(
      'proto.jsonl',
      ['toString', '__proto__', 'constructor', 'human'].map((from) => JSON.stringify(turn(from))).join('\n'),
    );
    const { examples, report } = await readDataset(p, { format: 'sharegpt', onError: 'skip' });
    expect(examples).toHaveLength(1);
    expect(report.skipped.map((s) => `${s.line}:${s.field}`)).toEqual([
      '1:conversations[0].from',
      '2:conversations[0].from',
      '3:conversations[0].from',
    ]);
    for (const s of report.skipped) expect(s.message).toMatch(/^must be one of system, human, user, /);
  });

  it('skips bad rows on request and lists every one of them', async () => {
    const p = await file(
      'skip.jsonl',
      [
        JSON.stringify({ instruction: 'a', output: 'b' }),
        '{not json',
        JSON.stringify({ instruction: 'a', output: '' }),
        '',
        JSON.stringify({ instruction: 'a', input: 3, output: 'b' }),
        JSON.stringify({ instruction: 'c', output: 'd' }),
      ].join('\n'),
    );
    const { examples, report } = await readDataset(p, { onError: 'skip' });
    expect(examples).toHaveLength(2);
    expect(report.rows).toBe(5);
    expect(report.kept).toBe(2);
    expect(report.skipped.map((s) => `${s.line}:${s.field}`)).toEqual(['2:(row)', '3:output', '5:input']);
    expect(report.skipped[0].message).toMatch(/invalid JSON/);
  });

  it('rejects an empty assistant turn, a conversation with nothing to train, and an unknown format', async () => {
    const empty = await file(
      'empty-turn.jsonl',
      jsonl([
        {
          messages: [
            { role: 'user', content: 'Hi' },
            { role: 'assistant', content: ' ' },
          ],
        },
      ]),
    );
    await expect(readDataset(empty)).rejects.toThrow(
      /empty-turn\.jsonl:1: messages\[1\]\.content: assistant message is empty/,
    );
    const noAssistant = await file('no-assistant.jsonl', jsonl([{ messages: [{ role: 'user', content: 'Hi' }] }]));
    await expect(readDataset(noAssistant)).rejects.toThrow(
      /no-assistant\.jsonl:1: \(row\): needs at least one assistant message/,
    );
    const unknown = await file('unknown.jsonl', jsonl([{ question: 'Hi', answer: 'Hello' }]));
    await expect(readDataset(unknown)).rejects.toThrow(/cannot tell the format from keys \{question, answer\}/);
    await expect(readDataset(await file('nothing.jsonl', '\n\n'))).rejects.toThrow(
      /no rows; an empty dataset would train on nothing/,
    );
  });

  it('streams a JSON array element by element with the line each starts on', async () => {
    const big = 'x'.repeat(200_000) + 'é😀';
    const text =
      `[\n  {"text": "first"},\n  {"text": "second, with [brackets] and \\"quotes\\" {}"},\n` +
      `  {"text": "${big}"},\n  {"text": 5},\n  {"text": "last"}\n]\n`;
    const { examples, report } = streamDataset(await file('docs.json', text), { onError: 'skip' });
    const texts: string[] = [];
    for await (const e of examples) if (e.kind === 'text') texts.push(e.document.text);
    expect(texts).toEqual(['first', 'second, with [brackets] and "quotes" {}', big, 'last']);
    expect(report.skipped).toEqual([
      { file: expect.stringContaining('docs.json'), line: 5, field: 'text', message: expect.any(String) },
    ]);
  });

  it('says what is wrong with a JSON file that is not an array', async () => {
    await expect(readDataset(await file('obj.json', '{"text": "a"}'))).rejects.toThrow(/must be a top-level array/);
    await expect(readDataset(await file('open.json', '[{"text": "a"},'))).rejects.toThrow(/not closed/);
    await expect(readDataset(path.join(dir, 'missing.jsonl'))).rejects.toThrow(/file not found/);
  });
});
