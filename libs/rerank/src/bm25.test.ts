import { describe, expect, it } from 'vitest';
import { Bm25Index, analyze } from './bm25';

const doc = (id: string, text: string, title = '') => ({ id, title, text });

describe('BM25 (Lucene formula, hand-computed)', () => {
  const plain = { stem: false, stopWords: false };
  const index = new Bm25Index([doc('d1', 'cat sat'), doc('d2', 'cat cat dog'), doc('d3', 'bird')], plain);
  // N = 3, avgdl = 2, k1 = 0.9, b = 0.4
  const idfCat = Math.log(1 + (3 - 2 + 0.5) / (2 + 0.5));
  const idfDog = Math.log(1 + (3 - 1 + 0.5) / (1 + 0.5));

  it('scores term frequency, document length and idf as Lucene does', () => {
    expect(index.idf('cat')).toBeCloseTo(idfCat, 12);
    const cat = index.scoreAll('cat');
    expect(cat[0]).toBeCloseTo((idfCat * (1 * 1.9)) / (1 + 0.9 * (0.6 + (0.4 * 2) / 2)), 12);
    expect(cat[1]).toBeCloseTo((idfCat * (2 * 1.9)) / (2 + 0.9 * (0.6 + (0.4 * 3) / 2)), 12);
    expect(cat[2]).toBe(0);
    const both = index.scoreAll('cat dog');
    expect(both[1]).toBeCloseTo(cat[1] + (idfDog * 1.9) / (1 + 0.9 * 1.2), 12);
    // a repeated query term counts twice, as a Lucene query with the term twice does
    expect(index.scoreAll('cat cat')[0]).toBeCloseTo(2 * cat[0], 12);
  });

  it('returns the top k with a positive score, ties by document id descending', () => {
    expect([...index.search('cat dog', 10).keys()]).toEqual(['d2', 'd1']);
    expect([...index.search('cat dog', 1).keys()]).toEqual(['d2']);
    const tied = new Bm25Index([doc('a', 'x y'), doc('c', 'x y'), doc('b', 'x y')], plain);
    expect([...tied.search('x', 2).keys()]).toEqual(['c', 'b']);
    expect(tied.search('unknown words', 10).size).toBe(0);
  });

  it("reads titles with the text, and analyses like Lucene's EnglishAnalyzer by default", () => {
    expect(analyze("The Cats' running in Peru's capital")).toEqual(['cat', 'run', 'peru', 'capit']);
    expect(analyze('The Cats', { stem: false, stopWords: false })).toEqual(['the', 'cats']);
    const titled = new Bm25Index([doc('1', 'about something', 'Libraries'), doc('2', 'about libraries')]);
    expect(titled.search('library', 10).size).toBe(2);
  });
});
