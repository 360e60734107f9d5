import type { RerankResult } from '../stages/rerank';

const METRICS = ['ndcg@10', 'mrr@10', 'map', 'recall@100', 'p@10'] as const;
const f3 = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(3));

/**
 * report.json's rerank section: `rerank.eval.<collection>.<bm25|reranked|fused>.<metric>` and
 * `rerank.eval.default.pmrr`.
 */
export function rerankReportJson(r: RerankResult) {
  const evalByCollection: Record<string, Record<string, unknown>> = {};
  for (const [name, e] of Object.entries(r.eval)) {
    evalByCollection[name] = {
      queries: e.queries,
      depth: e.depth,
      queries_over_context: e.fallback.length,
      bm25: e.bm25,
      reranked: e.reranked,
      fused: e.fused,
      fusion_weight: e.fusionWeight,
      ...(e.byKind ? { by_kind: e.byKind } : {}),
      delta: Object.fromEntries(METRICS.map((m) => [m, e.reranked[m] - e.bm25[m]])),
      runs: e.runs,
      seconds: e.seconds,
      pairs_per_second: e.pairsPerSecond,
    };
  }
  if (r.pairs) {
    evalByCollection.default = {
      ...evalByCollection.default,
      pmrr: r.pairs.pmrr,
      pmrr_bm25: 0,
      instruction_pairs: { pairs: r.pairs.pairs, original: r.pairs.original, altered: r.pairs.altered },
    };
  }
  return { training: r.training, eval: evalByCollection };
}

export function rerankReportMarkdown(r: RerankResult): string {
  const out = ['## Reranker', ''];
  if (Object.keys(r.training).length) {
    out.push(
      '| trained on | steps | groups | tokens/s | final loss | validation accuracy |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const [name, t] of Object.entries(r.training))
      out.push(
        `| ${name} | ${t.steps} | ${t.groups} | ${Math.round(t.tokensPerSecond)} | ${t.finalLoss.toFixed(3)} | ` +
          `${t.evalAccuracy === null ? '—' : `${(100 * t.evalAccuracy).toFixed(1)}%`} |`,
      );
    out.push(
      '',
      'Default collection: natural questions and instruction pairs about the training countries; ' +
        'other collections: synthetic queries from their documents only (never their queries). ' +
        'Validation accuracy: held-back training groups ' +
        'whose relevant document scores above all its hard negatives.',
      '',
    );
  }
  out.push('### Retrieval: BM25 first stage, then reranked', '');
  for (const [name, e] of Object.entries(r.eval)) {
    const fallback = e.fallback.length
      ? ` ${e.fallback.length} queries are longer than the model's context (queries are never cut) ` +
        `and keep BM25's order in every row.`
      : '';
    out.push(
      `**${name}**: ${e.queries} queries, top ${e.depth} from BM25, ${Math.round(e.pairsPerSecond)} pairs/s.` +
        fallback,
      '',
    );
    out.push(`| system | ${METRICS.join(' | ')} |`, `| --- |${METRICS.map(() => ' ---: |').join('')}`);
    out.push(`| BM25 | ${METRICS.map((m) => f3(e.bm25[m])).join(' | ')} |`);
    out.push(`| reranked | ${METRICS.map((m) => f3(e.reranked[m])).join(' | ')} |`);
    out.push(`| fused (w = ${e.fusionWeight}, an option) | ${METRICS.map((m) => f3(e.fused[m])).join(' | ')} |`, '');
    if (e.byKind) {
      out.push(
        'nDCG@10 by kind of query:',
        '',
        '| kind | queries | BM25 | reranked | fused |',
        '| --- | ---: | ---: | ---: | ---: |',
      );
      for (const [kind, k] of Object.entries(e.byKind))
        out.push(
          `| ${kind} | ${k.queries} | ` +
            `${f3(k.bm25['ndcg@10'])} | ${f3(k.reranked['ndcg@10'])} | ${f3(k.fused['ndcg@10'])} |`,
        );
      out.push('');
    }
  }
  if (r.pairs) {
    const p = r.pairs;
    out.push(
      '### Instruction following: p-MRR on instruction pairs',
      '',
      'The same query under its original and an altered instruction; ' +
        'p-MRR (FollowIR) compares the ranks of the documents the alteration made irrelevant: ' +
        '0 = the instruction is ignored, > 0 = followed, up to 100.',
      '',
    );
    out.push(
      '| system | p-MRR | nDCG@10 original | nDCG@10 altered |',
      '| --- | ---: | ---: | ---: |',
      `| BM25 (cannot see instructions) | 0.0 | | |`,
      `| reranked | ${p.pmrr.toFixed(1)} | ${f3(p.original['ndcg@10'])} | ${f3(p.altered['ndcg@10'])} |`,
      '',
    );
    const shown = [...p.perPair].sort((a, b) => b.pmrr - a.pmrr);
    out.push(`${p.pairs} pairs. Best and worst:`, '');
    for (const x of [...shown.slice(0, 2), ...shown.slice(-2)])
      out.push(`- ${x.pmrr.toFixed(0)}: "${x.query}" — ${x.original} → ${x.altered}`);
    out.push('');
  }
  return out.join('\n');
}
