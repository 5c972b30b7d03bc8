import { CdrFileErrorCode } from './cdr-errors.js';

/**
 * A small RFC 4180 CSV reader and writer: quoted fields with `""` escapes, commas and
 * line breaks inside quotes, LF or CRLF line ends, an optional UTF-8 BOM. Unquoted fields
 * are trimmed; blank lines are skipped.
 */

/** One record of a CSV file. */
export interface CsvRecord {
  /** 1-based line on which the record starts. */
  line: number;
  fields: string[];
  /** Set when the record is malformed; `fields` then holds what could be read. */
  problem?: { code: CdrFileErrorCode; message: string };
}

const COMMA = 44;
const LF = 10;
const CR = 13;
const QUOTE = 34;
const SPACE = 32;
const TAB = 9;

function countLineBreaks(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === LF || (c === CR && text.charCodeAt(i + 1) !== LF)) n++;
  }
  return n;
}

/** Reads `text` record by record. Never throws: malformed records carry a `problem`. */
export function* readCsv(text: string): Generator<CsvRecord> {
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let problem: CsvRecord['problem'];
    let blank = true;
    for (;;) {
      let j = i;
      while (j < n && (text.charCodeAt(j) === SPACE || text.charCodeAt(j) === TAB)) j++;
      if (j < n && text.charCodeAt(j) === QUOTE) {
        blank = false;
        j++;
        let value = '';
        let chunk = j;
        let closed = false;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q === -1) break;
          if (text.charCodeAt(q + 1) === QUOTE) {
            value += text.slice(chunk, q + 1);
            j = q + 2;
            chunk = j;
            continue;
          }
          value += text.slice(chunk, q);
          line += countLineBreaks(text, i, q);
          j = q + 1;
          closed = true;
          break;
        }
        if (!closed) {
          line += countLineBreaks(text, i, n);
          fields.push(value + text.slice(chunk));
          yield {
            line: startLine,
            fields,
            problem: { code: CdrFileErrorCode.UnterminatedQuote, message: 'a quoted field is not closed before the end of the file' },
          };
          return;
        }
        fields.push(value);
        while (j < n && (text.charCodeAt(j) === SPACE || text.charCodeAt(j) === TAB)) j++;
        const c = j < n ? text.charCodeAt(j) : -1;
        if (c !== -1 && c !== COMMA && c !== LF && c !== CR) {
          problem ??= {
            code: CdrFileErrorCode.BadQuote,
            message: `unexpected text after the closing quote of field ${fields.length}`,
          };
          // Skip the rest of this field: up to the next comma or line end.
          while (j < n && text.charCodeAt(j) !== COMMA && text.charCodeAt(j) !== LF && text.charCodeAt(j) !== CR) j++;
        }
      } else {
        let k = i;
        while (k < n) {
          const c = text.charCodeAt(k);
          if (c === COMMA || c === LF || c === CR) break;
          k++;
        }
        const value = text.slice(i, k).trim();
        if (value !== '') blank = false;
        fields.push(value);
        j = k;
      }
      if (j >= n) {
        i = n;
        break;
      }
      const c = text.charCodeAt(j);
      if (c === COMMA) {
        blank = false;
        i = j + 1;
        if (i >= n) {
          fields.push('');
          break;
        }
        continue;
      }
      // Line end.
      i = c === CR && text.charCodeAt(j + 1) === LF ? j + 2 : j + 1;
      line++;
      break;
    }
    if (blank && fields.length === 1 && problem === undefined) continue;
    yield problem === undefined ? { line: startLine, fields } : { line: startLine, fields, problem };
  }
}

const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

/** Quotes a field when it holds a quote, comma, line break, or edge whitespace (which the reader would trim). */
export function formatCsvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One CSV line without its line end. */
export function formatCsvRow(fields: readonly string[]): string {
  return fields.map(formatCsvField).join(',');
}
