/**
 * The one max-abs-error measure of the tests (and benchmarks) that compare numbers computed two ways: logits against
 * a reference, weights after two training paths, scores of two engines. Other libs reach it as
 * `@tunekit/model/testing`; model's own tests import it by its path.
 */

/**
 * The largest |actual[i] − expected[i]|. Arrays of different lengths throw (a missing value is not a small error),
 * and a NaN anywhere gives NaN, which fails every `toBeLessThan`.
 */
export function maxAbsError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length)
    throw new Error(`cannot compare ${actual.length} values with ${expected.length}`);
  let max = 0;
  for (let i = 0; i < actual.length; i++) {
    const error = Math.abs(actual[i] - expected[i]);
    if (Number.isNaN(error)) return NaN;
    max = Math.max(max, error);
  }
  return max;
}

/** The largest max-abs error over arrays matched by name (weights, gradients); both maps must hold the same names. */
export function maxAbsErrorByName(
  actual: ReadonlyMap<string, ArrayLike<number>>,
  expected: ReadonlyMap<string, ArrayLike<number>>,
): number {
  const names = [...actual.keys()].sort();
  const expectedNames = [...expected.keys()].sort();
  if (names.join('\n') !== expectedNames.join('\n'))
    throw new Error(`cannot compare arrays named ${names.join(', ')} with ${expectedNames.join(', ')}`);
  let max = 0;
  for (const name of names) {
    const error = maxAbsError(actual.get(name)!, expected.get(name)!);
    if (Number.isNaN(error)) return NaN;
    max = Math.max(max, error);
  }
  return max;
}
