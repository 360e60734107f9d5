import { describe, expect, it } from 'vitest';
import { mentions, wholeWords } from './text';

describe('whole-word matching', () => {
  it('finds a name only as whole words, not inside a longer word', () => {
    expect(mentions('Niger borders Nigeria.', 'Niger')).toBe(true);
    expect(mentions('Nigeria borders Chad.', 'Niger')).toBe(false);
    expect(mentions('Papua New Guinea', 'Guinea')).toBe(true);
    expect(mentions('São Tomé and Príncipe', 'Tomé')).toBe(true);
    expect(mentions('Tomés', 'Tomé')).toBe(false);
  });

  it('matches a name with pattern characters literally, and takes flags', () => {
    expect(mentions('Bonaire (Netherlands)', 'Bonaire (Netherlands)')).toBe(true);
    expect(mentions('Bonaire Netherlands', 'Bonaire (Netherlands)')).toBe(false);
    expect('Chad and Chad'.replace(wholeWords('Chad', 'gu'), 'X')).toBe('X and X');
  });
});
