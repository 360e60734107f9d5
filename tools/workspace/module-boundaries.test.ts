import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const eslint = new ESLint({ cwd: root });

/** Lints `code` as if it were a file at `file` and returns the module-boundary errors. */
async function boundaryErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result.messages.filter((m) => m.ruleId === '@nx/enforce-module-boundaries').map((m) => m.message);
}

describe('module boundaries (apps → libs; rerank → model → data; corpora → data)', () => {
  beforeAll(() => {
    // The rule reads Nx's cached project graph; computing it makes the test independent of how it is started.
    execFileSync(path.join(root, 'node_modules/.bin/nx'), ['show', 'projects'], {
      cwd: root,
      stdio: 'ignore',
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
    });
  });

  it.each([
    // model and rerank already depend on data, so these are also cycles, which the rule reports first
    [
      'libs/data/src/forbidden.ts',
      '@tunekit/model',
      /Circular dependency between "data" and "model"|A project tagged with "lib:data" cannot depend on any libs with tags/,
    ],
    [
      'libs/data/src/forbidden.ts',
      '@tunekit/rerank',
      /Circular dependency between "data" and "rerank"|A project tagged with "lib:data" cannot depend on any libs with tags/,
    ],
    [
      'libs/model/src/forbidden.ts',
      '@tunekit/rerank',
      /Circular dependency between "model" and "rerank"|A project tagged with "lib:model" can only depend on libs tagged with "lib:data"/,
    ],
    // corpora depends on data, so the reverse is a cycle as well
    [
      'libs/data/src/forbidden.ts',
      '@tunekit/corpora',
      /Circular dependency between "data" and "corpora"|tagged with "lib:data" cannot depend on any libs with tags/,
    ],
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
  ])('%s may not import %s', async (file, target, message) => {
    const errors = await boundaryErrors(file, `import * as forbidden from '${target}';\nexport const x = forbidden;\n`);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
  });

  it('a library may not import an application', async () => {
    const errors = await boundaryErrors(
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
    ['tools/bench/allowed.ts', '@tunekit/data'],
    ['libs/corpora/src/allowed.ts', '@tunekit/data'],
    ['apps/trainer/src/allowed.ts', '@tunekit/corpora'],
    ['tools/bench/allowed.ts', '@tunekit/corpora'],
  ])('%s may import %s', async (file, target) => {
    expect(await boundaryErrors(file, `import * as allowed from '${target}';\nexport const x = allowed;\n`)).toEqual(
      [],
    );
  });
});
