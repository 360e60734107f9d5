import '@mantine/core/styles.css';
import '@mantine/charts/styles.css';
import {
  AppShell,
  AppShellHeader,
  AppShellMain,
  ColorSchemeScript,
  Group,
  MantineProvider,
  Title,
  mantineHtmlProps,
} from '@mantine/core';
import type { Metadata } from 'next';
import Link from 'next/link';
import type { ReactNode } from 'react';
import { TRPCReactProvider } from '../trpc/react';

export const metadata: Metadata = { title: 'tunekit', description: 'Datasets, runs and retrieval evaluations' };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en" {...mantineHtmlProps}>
      <head>
        <ColorSchemeScript />
      </head>
      <body>
        <MantineProvider>
          <TRPCReactProvider>
            <AppShell header={{ height: 52 }} padding="md">
              <AppShellHeader>
                <Group h="100%" px="md">
                  <Link href="/" style={{ color: 'inherit', textDecoration: 'none' }}>
                    <Title order={4}>tunekit</Title>
                  </Link>
                </Group>
              </AppShellHeader>
              <AppShellMain>{children}</AppShellMain>
            </AppShell>
          </TRPCReactProvider>
        </MantineProvider>
      </body>
    </html>
  );
}
