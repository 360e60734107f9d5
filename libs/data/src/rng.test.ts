import { describe, expect, it } from 'vitest';
import { Rng } from './rng';

describe('Rng.gaussian', () => {
  it('is Box–Muller over two consecutive uniforms, so a seed gives the same normals as before', () => {
    const rng = new Rng(7),
      uniforms = new Rng(7);
    for (let i = 0; i < 100; i++) {
      const u = 1 - uniforms.next();
      expect(rng.gaussian()).toBe(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniforms.next()));
    }
  });

  it('draws from N(0, 1)', () => {
    const rng = new Rng(1);
    const xs = Array.from({ length: 20000 }, () => rng.gaussian());
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });
});
