import { Table, Text, Title } from '@mantine/core';
import type { RunReport } from '../server/api/routers/runs';

const METRICS = ['ndcg@10', 'mrr@10', 'map', 'recall@100', 'p@10'];
const SYSTEMS = [
  ['bm25', 'BM25'],
  ['reranked', 'reranked'],
  ['fused', 'fused with BM25 (option)'],
] as const;
const f3 = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(3));

/** BM25 vs reranked (and fused) per collection, with p-MRR where the collection has instruction pairs. */
export function RetrievalTable({ rerank }: { rerank: NonNullable<RunReport['rerank']> }) {
  return (
    <>
      <Title order={3}>Retrieval</Title>
      {Object.entries(rerank.eval).map(([name, e]) => (
        <div key={name} data-testid={`retrieval-${name}`}>
          <Text fw={500}>
            {name}: {e.queries} queries, BM25 top {e.depth} reranked
            {e.pmrr !== undefined ? ` · p-MRR ${e.pmrr.toFixed(1)}` : ''}
          </Text>
          <Table
            withTableBorder
            data={{
              head: ['system', ...METRICS],
              body: SYSTEMS.map(([key, label]) => [label, ...METRICS.map((m) => f3(e[key]?.[m]))]),
            }}
          />
        </div>
      ))}
    </>
  );
}
