import { buildFactRetrieval } from '@tunekit/data';
import { selectBackend } from '@tunekit/model';
import { Reranker, documentText } from '@tunekit/rerank';
await selectBackend('wasm');
const r = await Reranker.load(process.argv[2]);
const f = buildFactRetrieval();
const train = [...(process.env.SPLIT === 'test' ? f.test : f.train).queries.values()].filter((q) => q.metadata?.kind === 'fact').slice(0, 10);
for (const q of train) {
  const country = [...(process.env.SPLIT === 'test' ? f.test : f.train).qrels.get(q.id)!.keys()][0].split('-')[0];
  const docs = [...f.corpus.values()].filter((d) => d.id.startsWith(`${country}-`));
  const other = [...f.corpus.values()].filter((d) => d.id.endsWith([...(process.env.SPLIT === 'test' ? f.test : f.train).qrels.get(q.id)!.keys()][0].split('-')[1]) && !d.id.startsWith(country)).slice(0, 3);
  const all = [...docs, ...other];
  const s = r.score(all.map((d) => ({ query: q.text, document: documentText(d) })));
  const ranked = all.map((d, i) => [d.id, s[i]] as const).sort((a, b) => b[1] - a[1]);
  console.log(q.text, '|', ranked.map(([id, v]) => `${id}${(process.env.SPLIT === 'test' ? f.test : f.train).qrels.get(q.id)!.has(id) ? '*' : ''}:${v.toFixed(1)}`).join(' '));
}
