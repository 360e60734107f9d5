'use client';

import { Alert, Anchor, Loader, Table, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useTRPC } from '../trpc/react';

export default function RunsPage() {
  const trpc = useTRPC();
  const runs = useQuery(trpc.runs.list.queryOptions());
  return (
    <>
      <Title order={2} mb="md">
        Runs
      </Title>
      {runs.isPending && <Loader />}
      {runs.error && (
        <Alert color="red" title="Could not load runs">
          {runs.error.message}
        </Alert>
      )}
      {runs.data?.length === 0 && (
        <Alert title="No runs yet">
          Start one with <code>npx nx run trainer:train</code>.
        </Alert>
      )}
      {runs.data && runs.data.length > 0 && (
        <Table striped highlightOnHover data-testid="runs">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>run</Table.Th>
              <Table.Th>preset</Table.Th>
              <Table.Th>stages</Table.Th>
              <Table.Th>instruction rows</Table.Th>
              <Table.Th>duration</Table.Th>
              <Table.Th>finished</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {runs.data.map((r) => (
              <Table.Tr key={r.id}>
                <Table.Td>
                  <Anchor component={Link} href={`/runs/${r.id}`}>
                    {r.id}
                  </Anchor>
                </Table.Td>
                <Table.Td>{r.preset}</Table.Td>
                <Table.Td>{r.stages.join(', ')}</Table.Td>
                <Table.Td>{r.sftRows ?? '—'}</Table.Td>
                <Table.Td>{r.seconds.toFixed(1)} s</Table.Td>
                <Table.Td>{new Date(r.created).toLocaleString()}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </>
  );
}
