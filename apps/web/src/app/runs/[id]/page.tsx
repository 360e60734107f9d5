'use client';

import { Alert, Anchor, Badge, Card, Group, Loader, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useParams } from 'next/navigation';
import { DatasetStats } from '../../../components/dataset-stats';
import { LabelView } from '../../../components/label-view';
import { RetrievalTable } from '../../../components/retrieval-table';
import type { RunReport } from '../../../server/api/routers/runs';
import { useTRPC } from '../../../trpc/react';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

type Packing = NonNullable<RunReport['data']>['packing'][string];

/** One dataset's packing in words: examples, rows and efficiency, or that it was padded instead. */
const packingSummary = (p: Packing) =>
  p ? `${p.examples} examples → ${p.rows} rows, ${pct(p.efficiency)} efficiency` : 'not packed (padded)';

/** One run: its datasets (statistics, histograms, packing, mixture), trained tokens, and retrieval evaluations. */
export default function RunPage() {
  const { id } = useParams<{ id: string }>();
  const trpc = useTRPC();
  const run = useQuery(trpc.runs.get.queryOptions({ id }));
  if (run.isPending) return <Loader />;
  if (run.error) {
    return (
      <Alert color="red" title="Could not load the run">
        {run.error.message}{' '}
        <Anchor component={Link} href="/">
          Back to the runs
        </Anchor>
      </Alert>
    );
  }
  const r = run.data;
  const data = r.data;
  return (
    <Stack>
      <Group>
        <Title order={2}>{r.run}</Title>
        <Badge variant="light">{r.preset}</Badge>
        <Text c="dimmed">
          {r.stages.join(' → ')} · {r.seconds.toFixed(1)} s
        </Text>
      </Group>
      {!data && <Alert title="No data statistics">This run did not run the data stage.</Alert>}
      {data && (
        <>
          <Text>
            {data.entities.total} entities: {data.entities.train} in training, {data.entities.heldOut} held out (their
            facts only in the pre-training prose).
          </Text>
          <Title order={3}>Datasets</Title>
          <DatasetStats statistics={data.statistics} />
          <SimpleGrid cols={{ base: 1, md: 2 }}>
            <Card withBorder>
              <Title order={5} mb="xs">
                Packing
              </Title>
              {Object.entries(data.packing).map(([name, p]) => (
                <Text key={name} data-testid={`efficiency-${name}`}>
                  {name}: {packingSummary(p)}
                </Text>
              ))}
            </Card>
            <Card withBorder>
              <Title order={5} mb="xs">
                Mixture
              </Title>
              <Table
                data-testid="mixture-table"
                data={{
                  head: ['source', 'available', 'taken', 'share'],
                  body: data.mixture.sources.map((s) => [s.name, s.available, s.taken, pct(s.share)]),
                }}
              />
            </Card>
          </SimpleGrid>
          <SkippedRows prepare={data.prepare} />
          <Title order={3}>Trained tokens</Title>
          <Text size="sm" c="dimmed">
            Highlighted: the tokens the loss is computed on; everything else is masked (-100).
          </Text>
          {data.samples.map((s, i) => (
            <div key={i}>
              <Text size="sm" fw={500}>
                {s.task}
              </Text>
              <LabelView labels={s.labels} />
            </div>
          ))}
        </>
      )}
      {r.rerank && <RetrievalTable rerank={r.rerank} />}
    </Stack>
  );
}

function SkippedRows({ prepare }: { prepare: NonNullable<RunReport['data']>['prepare'] }) {
  const skipped = Object.entries(prepare).flatMap(([name, p]) => p.skipped.map((s) => ({ name, ...s })));
  const truncated = Object.entries(prepare).filter(([, p]) => p.truncated > 0);
  if (skipped.length === 0 && truncated.length === 0)
    return (
      <Text size="sm" c="dimmed">
        No row was skipped or truncated.
      </Text>
    );
  return (
    <Alert
      color="yellow"
      title={`${skipped.length} rows skipped, ${truncated.reduce((n, [, p]) => n + p.truncated, 0)} truncated`}
    >
      {skipped.slice(0, 50).map((s, i) => (
        <Text key={i} size="sm">
          {s.name}: {s.source}: {s.message}
        </Text>
      ))}
    </Alert>
  );
}
