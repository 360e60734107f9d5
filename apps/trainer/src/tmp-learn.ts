import { Rng, TextTokenizer, buildFactRetrieval } from '@tunekit/data';
import { DEFAULT_OPTIMIZER, loadModel, selectBackend } from '@tunekit/model';
import { Reranker, documentText, evaluateGroups, trainReranker, type RankingGroup } from '@tunekit/rerank';
await selectBackend('wasm');
const dir = process.argv[2];
const mode = (process.env.MODE ?? 'yes_no') as 'yes_no' | 'head';
const r = Reranker.create(await loadModel(dir), await TextTokenizer.fromDirectory(dir), { mode }, 1);
const f = buildFactRetrieval();
const rng = new Rng(3);
const ATTR = ['capital', 'continent', 'currency', 'language', 'phone'];
const mk = (split: typeof f.train, n: number): RankingGroup[] => {
  const qs = rng.shuffle([...split.queries.values()].filter((q) => q.metadata?.kind === 'fact')).slice(0, n);
  return qs.map((q) => {
    const pos = [...split.qrels.get(q.id)!].find(([, g]) => g === 2)![0];
    const [c, a] = pos.split('-');
    if (process.env.TASK === 'both') {
      const countries = [...new Set([...f.corpus.keys()].map((k) => k.split('-')[0]))].filter((x) => x !== c);
      const others = rng.shuffle(ATTR.filter((x) => x !== a));
      const [o1, o2] = rng.shuffle(countries);
      return { query: q.text, positive: documentText(f.corpus.get(pos)!), negatives: [`${o1}-${a}`, `${c}-${others[0]}`, `${o2}-${others[1]}`].map((id) => documentText(f.corpus.get(id)!)) };
    }
    if (process.env.TASK === 'entity') {
      const countries = [...new Set([...f.corpus.keys()].map((k) => k.split('-')[0]))].filter((x) => x !== c);
      return { query: q.text, positive: documentText(f.corpus.get(pos)!), negatives: rng.shuffle(countries).slice(0, 3).map((o) => documentText(f.corpus.get(`${o}-${a}`)!)) };
    }
    const others = rng.shuffle(ATTR.filter((x) => x !== a)).slice(0, 3);
    return { query: q.text, positive: documentText(f.corpus.get(pos)!), negatives: others.map((o) => documentText(f.corpus.get(`${c}-${o}`)!)) };
  });
};
const train = mk(f.train, 1200), val = mk(f.test, 100);
console.log('before', evaluateGroups(r, val, 'listwise'));
const steps = Number(process.env.STEPS ?? 150);
const trainable = process.env.FREEZE ? new Map([...r.model.params].filter(([k]) => !k.includes('embed_tokens'))) : undefined;
await trainReranker({ reranker: r, groups: train, trainable, loss: 'listwise', steps, groupsPerStep: 8, microGroups: 4, seed: 1,
  optimizer: { ...DEFAULT_OPTIMIZER, lr: Number(process.env.LR ?? 3e-4), warmupSteps: 10, totalSteps: steps, weightDecay: 0 },
  evalGroups: val, evalEvery: 25, onEval: (s, e) => console.log(s, e.loss.toFixed(3), e.accuracy.toFixed(3)) });
