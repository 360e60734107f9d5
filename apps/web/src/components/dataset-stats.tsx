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
      <Table withTableBorder data-testid="dataset-table" mb="md">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>dataset</Table.Th>
            <Table.Th>rows</Table.Th>
            <Table.Th>tokens</Table.Th>
            <Table.Th>trainable</Table.Th>
            <Table.Th>length p50 / p95 / max</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {entries.map(([name, s]) => (
            <Table.Tr key={name}>
              <Table.Td>{name}</Table.Td>
              <Table.Td>{s.rows}</Table.Td>
              <Table.Td>{s.tokens}</Table.Td>
              <Table.Td>{pct(s.trainableFraction)}</Table.Td>
              <Table.Td>
                {s.length.p50} / {s.length.p95} / {s.length.max}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
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
