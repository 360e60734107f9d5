'use client';

import { BarChart } from '@mantine/charts';
import { Card, SimpleGrid, Table, Text, Title } from '@mantine/core';
import type { DatasetStatistics } from '@tunekit/data';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** Rows, tokens and trainable share per dataset, and each dataset's token-length histogram. */
export function DatasetStats({ statistics }: { statistics: Record<string, DatasetStatistics> }) {
  const entries = Object.entries(statistics);
  return (
    <>
      <Table
        withTableBorder
        data-testid="dataset-table"
        mb="md"
        data={{
          head: ['dataset', 'rows', 'tokens', 'trainable', 'length p50 / p95 / max'],
          body: entries.map(([name, s]) => [
            name,
            s.rows,
            s.tokens,
            pct(s.trainableFraction),
            `${s.length.p50} / ${s.length.p95} / ${s.length.max}`,
          ]),
        }}
      />
      <SimpleGrid cols={{ base: 1, md: entries.length }}>
        {entries.map(([name, s]) => (
          <Card withBorder key={name} data-testid={`histogram-${name}`}>
            <Title order={5}>{name}: tokens per example</Title>
            <Text size="xs" c="dimmed" mb="xs">
              {s.rows} rows
            </Text>
            <BarChart
              h={200}
              data={s.lengthHistogram.counts.map((count, i) => ({ tokens: `${s.lengthHistogram.edges[i]}`, count }))}
              dataKey="tokens"
              series={[{ name: 'count', color: 'blue.6' }]}
            />
          </Card>
        ))}
      </SimpleGrid>
    </>
  );
}
