import path from 'node:path';
import { defineConfig } from 'vitest/config';

/** The vitest config every project uses; results also go to tmp/test-results/<project>.json for the CI summary. */
export function projectConfig(projectDir: string) {
  return defineConfig({
    root: projectDir,
    resolve: { tsconfigPaths: true },
    test: {
      watch: false,
      include: ['**/*.test.ts', '**/*.test.tsx'],
      exclude: ['**/node_modules/**', '**/.next/**'],
      testTimeout: 60_000,
      reporters: [
        'default',
        [
          'json',
          { outputFile: path.join(import.meta.dirname, 'tmp/test-results', `${path.basename(projectDir)}.json`) },
        ],
      ],
    },
  });
}
