import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

/** Which projects may import which: apps → libs; rerank → model → data; corpora → data; data → nothing. */
export const dependencyConstraints = [
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'lib:rerank', onlyDependOnLibsWithTags: ['lib:model', 'lib:data'] },
  { sourceTag: 'lib:model', onlyDependOnLibsWithTags: ['lib:data'] },
  // the default run's corpora are built with the toolkit alone; no other library lists lib:corpora, so only apps
  // and tools use them
  { sourceTag: 'lib:corpora', onlyDependOnLibsWithTags: ['lib:data'] },
  { sourceTag: 'lib:data', onlyDependOnLibsWithTags: [] },
  { sourceTag: 'lib:db', onlyDependOnLibsWithTags: [] },
];

export default tseslint.config(
  {
    ignores: ['**/node_modules', '**/dist', '**/.next', '**/tmp', '**/.nx', 'runs', '.data', 'libs/model/native/build'],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx', '**/*.mts'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        { enforceBuildableLibDependency: false, allow: [], depConstraints: dependencyConstraints },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Tool configuration shares the workspace's vitest setup; it is not project code.
    files: ['**/vitest.config.mts'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
  { files: ['**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
);
