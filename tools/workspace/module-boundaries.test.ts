import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ESLint, type Linter } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const rule = '@nx/enforce-module-boundaries';

/** Lints `code` as if it were a file at `file` and returns the module-boundary errors. */
async function boundaryErrors(eslint: ESLint, file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result.messages.filter((m) => m.ruleId === rule).map((m) => m.message);
}

const importing = (target: string) => `import * as imported from '${target}';\nexport const x = imported;\n`;

/**
 * Imports that the tag constraints in eslint.config.mjs (`dependencyConstraints`) forbid and nothing else does: none
 * of them closes a cycle (no lib depends on db, corpora, or a lib other than data and model; db depends on no lib),
 * so only the constraints can report them.
 */
const forbiddenByTagsOnly: [file: string, target: string, message: RegExp][] = [
  ['libs/data/src/forbidden.ts', '@tunekit/db', /A project tagged with "lib:data" cannot depend on any libs with tags/],
  [
    'libs/model/src/forbidden.ts',
    '@tunekit/db',
    /A project tagged with "lib:model" can only depend on libs tagged with "lib:data"/,
  ],
  [
    'libs/rerank/src/forbidden.ts',
    '@tunekit/db',
    /A project tagged with "lib:rerank" can only depend on libs tagged with "lib:model", "lib:data"/,
  ],
  ['libs/db/src/forbidden.ts', '@tunekit/data', /A project tagged with "lib:db" cannot depend on any libs with tags/],
  ['libs/db/src/forbidden.ts', '@tunekit/rerank', /A project tagged with "lib:db" cannot depend on any libs with tags/],
  // the toolkit libraries stay corpus-free: only apps and tools build the default corpora
  [
    'libs/model/src/forbidden.ts',
    '@tunekit/corpora',
    /A project tagged with "lib:model" can only depend on libs tagged with "lib:data"/,
  ],
  [
    'libs/rerank/src/forbidden.ts',
    '@tunekit/corpora',
    /A project tagged with "lib:rerank" can only depend on libs tagged with "lib:model", "lib:data"/,
  ],
  [
    'libs/corpora/src/forbidden.ts',
    '@tunekit/model',
    /A project tagged with "lib:corpora" can only depend on libs tagged with "lib:data"/,
  ],
];

describe('module boundaries (apps → libs; rerank → model → data; corpora → data)', () => {
  /** The workspace's ESLint configuration, as `nx run <project>:lint` uses it. */
  let eslint: ESLint;
  /** The same configuration with `dependencyConstraints` emptied and every other option of the rule kept. */
  let eslintWithoutConstraints: ESLint;

  beforeAll(async () => {
    // The rule reads Nx's cached project graph; computing it makes the test independent of how it is started.
    execFileSync(path.join(root, 'node_modules/.bin/nx'), ['show', 'projects'], {
      cwd: root,
      stdio: 'ignore',
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
    });
    eslint = new ESLint({ cwd: root });
    const config = await eslint.calculateConfigForFile(path.join(root, 'libs/data/src/forbidden.ts'));
    const [severity, options] = config.rules[rule] as [Linter.Severity, Record<string, unknown>];
    eslintWithoutConstraints = new ESLint({
      cwd: root,
      overrideConfig: { files: ['**/*.ts'], rules: { [rule]: [severity, { ...options, depConstraints: [] }] } },
    });
    // computing the project graph starts Nx and reads every project: seconds on a busy machine
  }, 120_000);

  it.each(forbiddenByTagsOnly)(
    '%s may not import %s (a tag constraint, not a cycle)',
    async (file, target, message) => {
      const errors = await boundaryErrors(eslint, file, importing(target));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(message);
    },
  );

  it.each(forbiddenByTagsOnly)(
    '%s importing %s is allowed once the tag constraints are emptied (so the error above is theirs)',
    async (file, target) => {
      expect(await boundaryErrors(eslintWithoutConstraints, file, importing(target))).toEqual([]);
    },
  );

  it('with the tag constraints emptied the rule still runs: it reports a cycle', async () => {
    const errors = await boundaryErrors(
      eslintWithoutConstraints,
      'libs/data/src/forbidden.ts',
      importing('@tunekit/model'),
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/Circular dependency between "data" and "model"/);
  });

  it.each([
    // model, rerank and corpora already depend on data, so these close a cycle, which the rule checks before any tag
    ['libs/data/src/forbidden.ts', '@tunekit/model', /Circular dependency between "data" and "model"/],
    ['libs/data/src/forbidden.ts', '@tunekit/rerank', /Circular dependency between "data" and "rerank"/],
    ['libs/data/src/forbidden.ts', '@tunekit/corpora', /Circular dependency between "data" and "corpora"/],
    ['libs/model/src/forbidden.ts', '@tunekit/rerank', /Circular dependency between "model" and "rerank"/],
  ])('%s may not import %s (a cycle)', async (file, target, message) => {
    const errors = await boundaryErrors(eslint, file, importing(target));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
  });

  it('a library may not import an application', async () => {
    const errors = await boundaryErrors(
      eslint,
      'libs/data/src/forbidden.ts',
      "import { parseFlags } from '../../../apps/trainer/src/cli';\nexport const x = parseFlags;\n",
    );
    expect(errors.length).toBeGreaterThan(0);
  });

  it.each([
    ['libs/rerank/src/allowed.ts', '@tunekit/model'],
    ['libs/rerank/src/allowed.ts', '@tunekit/data'],
    ['libs/model/src/allowed.ts', '@tunekit/data'],
    ['apps/trainer/src/allowed.ts', '@tunekit/rerank'],
    ['apps/trainer/src/allowed.ts', '@tunekit/db'],
    ['tools/bench/allowed.ts', '@tunekit/data'],
    ['libs/corpora/src/allowed.ts', '@tunekit/data'],
    ['apps/trainer/src/allowed.ts', '@tunekit/corpora'],
    ['tools/bench/allowed.ts', '@tunekit/corpora'],
  ])('%s may import %s', async (file, target) => {
    expect(await boundaryErrors(eslint, file, importing(target))).toEqual([]);
  });
});
