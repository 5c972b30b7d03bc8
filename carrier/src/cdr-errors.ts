/**
 * Machine-readable codes of `CdrFileError`. Branch on these, never on the message.
 */
export const CdrFileErrorCode = {
  /** The file has no header row. */
  MissingHeader: 'MISSING_HEADER',
  /** The header lacks a required column or names a column twice. */
  BadHeader: 'BAD_HEADER',
  /** A quoted field is never closed; the rest of the file is unreadable. */
  UnterminatedQuote: 'UNTERMINATED_QUOTE',
  /** Text follows the closing quote of a field (`"abc"x`). */
  BadQuote: 'BAD_QUOTE',
  /** A row has more or fewer fields than the header. */
  ColumnCount: 'COLUMN_COUNT',
  /** A required field is empty. */
  MissingValue: 'MISSING_VALUE',
  /** A field has a value outside its domain (enum, id syntax, length). */
  BadValue: 'BAD_VALUE',
  /** A phone number is not a valid E.164 number. */
  BadNumber: 'BAD_NUMBER',
  /** A time is not an ISO-8601 timestamp with a UTC offset. */
  BadTime: 'BAD_TIME',
  /** A date is not a real `YYYY-MM-DD` date. */
  BadDate: 'BAD_DATE',
  /** A customer account appears twice in customers.csv. */
  DuplicateAccount: 'DUPLICATE_ACCOUNT',
} as const;
export type CdrFileErrorCode = (typeof CdrFileErrorCode)[keyof typeof CdrFileErrorCode];

/** Codes that make the whole file unreadable; these always throw, even with `onError`. */
export const FILE_LEVEL_CODES: ReadonlySet<CdrFileErrorCode> = new Set([
  CdrFileErrorCode.MissingHeader,
  CdrFileErrorCode.BadHeader,
  CdrFileErrorCode.UnterminatedQuote,
]);

/**
 * A problem in a CDR or customers CSV file. `line` is the 1-based physical line where the
 * offending row starts (a quoted field may span lines); the message names it too:
 * `cdr-p0001.csv line 7: start_utc "2026-13-01" is not an ISO-8601 UTC time`.
 */
export class CdrFileError extends Error {
  override readonly name = 'CdrFileError';
  readonly code: CdrFileErrorCode;
  /** 1-based line of the row's start. */
  readonly line: number;
  /** File name given to the parser, if any. */
  readonly source: string | undefined;
  /** CSV column the problem is in, if it is in one field. */
  readonly column: string | undefined;

  constructor(
    code: CdrFileErrorCode,
    detail: string,
    where: { line: number; source?: string | undefined; column?: string | undefined },
    options: { cause?: unknown } = {},
  ) {
    super(`${where.source ?? 'csv'} line ${where.line}: ${detail}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.line = where.line;
    this.source = where.source;
    this.column = where.column;
  }

  /** Marker check that survives duplicated module copies, unlike `instanceof`. */
  static is(err: unknown): err is CdrFileError {
    return err instanceof Error && err.name === 'CdrFileError' && typeof (err as CdrFileError).code === 'string';
  }
}
