// Whole-word matching of names. Generic text helpers: the corpora use them to keep held-out names out of
// training text, the reranker's entity substitution to rename entities in any collection.

/** A pattern that matches `name` as whole words: not inside a longer word ("Niger" is not in "Nigeria"). */
export function wholeWords(name: string, flags = 'u'): RegExp {
  return new RegExp(`(?<!\\p{L})${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?!\\p{L})`, flags);
}

/** Whether `text` contains `name` as whole words. */
export function mentions(text: string, name: string): boolean {
  return wholeWords(name).test(text);
}
