import { describe, expect, it } from 'vitest';
import { containsAnswer, firstSentence, followsFormat, isRefusal } from './instruction-eval';

describe('scoring answers', () => {
  it('takes the first sentence or line as the answer', () => {
    expect(firstSentence('The capital of France is Paris. The currency of France is EUR.')).toBe(
      'The capital of France is Paris.',
    );
    expect(firstSentence('The capital of the United States is Washington D.C. It lies in North America.')).toBe(
      'The capital of the United States is Washington D.C.',
    );
    expect(firstSentence('Paris\nLyon')).toBe('Paris');
    expect(firstSentence('is the currency used in Peru. The capital of Peru is Lima.')).toBe(
      'is the currency used in Peru.',
    );
  });

  it('matches the expected value as whole words, case- and punctuation-insensitively', () => {
    expect(containsAnswer('The capital of Peru is Lima.', 'Lima')).toBe(true);
    expect(containsAnswer('the calling code of France is +33.', '+33')).toBe(true);
    expect(containsAnswer('The calling code of Réunion is +262.', '+26')).toBe(false);
    expect(containsAnswer("It is Saint John's.", "Saint John's")).toBe(true);
    expect(containsAnswer('Limassol', 'Lima')).toBe(false);
  });

  it('checks the requested formats', () => {
    expect(followsFormat('json', '{"country":"Peru","capital":"Lima"}')).toBe(true);
    expect(followsFormat('json', '{"country":"Peru",')).toBe(false);
    expect(followsFormat('json', '["Peru"]')).toBe(false);
    expect(followsFormat('bullets', '- Capital: Lima\n- Currency: PEN')).toBe(true);
    expect(followsFormat('bullets', 'Capital: Lima')).toBe(false);
    expect(followsFormat('table', '| Field | Value |\n| --- | --- |\n| Capital | Lima |')).toBe(true);
    expect(followsFormat('table', '||||||||||||')).toBe(false);
  });

  it('recognises refusals', () => {
    expect(isRefusal("I can't help with that. It could cause serious harm.")).toBe(true);
    expect(isRefusal('The capital of Peru is Lima.')).toBe(false);
  });
});
