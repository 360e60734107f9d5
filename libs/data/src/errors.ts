/** A problem with one input row: `file:line: field: message`. */
export interface RowIssue {
  file: string;
  line: number;
  field: string;
  message: string;
}

export function formatIssue(issue: RowIssue): string {
  return `${issue.file}:${issue.line}: ${issue.field}: ${issue.message}`;
}

/**
 * A mistake in the user's data or options. The CLI prints `message` alone (no stack trace);
 * `issues` holds every row-level problem found so far.
 */
export class DataError extends Error {
  override name = 'DataError';
  readonly issues: RowIssue[];
  /** Why an example was refused, for counting skips: `too_long`, `untrainable` or `invalid`. */
  readonly reason: SkipReason;

  constructor(message: string, issues: RowIssue[] = [], reason: SkipReason = 'invalid') {
    super(message);
    this.issues = issues;
    this.reason = reason;
  }
}

export type SkipReason = 'invalid' | 'too_long' | 'untrainable';
