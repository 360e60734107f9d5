import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: import.meta.dirname,
  resolve: { tsconfigPaths: true },
  test: { watch: false, include: ['**/*.test.ts'], testTimeout: 60_000 },
});
