import { parsePhoneNumberWithError } from 'libphonenumber-js/max';
import { ErrorCode, ProtocolError } from './errors.js';
import type { E164 } from './messages.js';

/** `+`, then digits with optional spaces, dots, dashes and parentheses; nothing else. */
const INTERNATIONAL = /^\+[0-9][0-9 ().-]*$/;
/** Digits only, country code first and no `+`, as PASSporTs carry them (RFC 8588 `tn`). */
const BARE_DIGITS = /^[0-9]{8,15}$/;

/**
 * Normalises a phone number to E.164. Accepts `+` numbers in any common formatting,
 * and bare digits with country code as PASSporTs carry them (`12155550121`).
 * National formats without a country code are rejected: a traceback crosses borders
 * and a guessed country would silently trace the wrong call.
 *
 * Anything but digits and `( ) . -` and spaces after the `+` is refused: libphonenumber
 * would otherwise find a number inside text (`+12155550121abc`), drop an extension
 * (`… ext. 5`) or keep only a prefix of a vanity number. Ten bare digits that form a
 * valid North American number (`3525550121`) are refused as ambiguous, even when they
 * also read as a valid number elsewhere (`+352 5550121`, Luxembourg).
 */
export function normalizeE164(input: string, path = 'number'): E164 {
  const trimmed = input.trim();
  if (BARE_DIGITS.test(trimmed) && trimmed.length === 10 && isValidNumber(`+1${trimmed}`)) {
    throw new ProtocolError(
      ErrorCode.InvalidNumber,
      `${path}: ${JSON.stringify(input)} looks like a North American number without country code (send +1${trimmed})`,
      { path },
    );
  }
  const candidate = BARE_DIGITS.test(trimmed) ? `+${trimmed}` : trimmed;
  if (!candidate.startsWith('+')) {
    throw new ProtocolError(ErrorCode.InvalidNumber, `${path}: ${JSON.stringify(input)} has no country code (E.164 needs +CC)`, {
      path,
    });
  }
  if (!INTERNATIONAL.test(candidate)) {
    throw new ProtocolError(
      ErrorCode.InvalidNumber,
      `${path}: ${JSON.stringify(input)} may hold only digits, spaces and ( ) . - after the +`,
      { path },
    );
  }
  let parsed;
  try {
    parsed = parsePhoneNumberWithError(candidate);
  } catch (cause) {
    throw new ProtocolError(ErrorCode.InvalidNumber, `${path}: ${JSON.stringify(input)} is not a phone number`, {
      path,
      cause,
    });
  }
  if (!parsed.isValid()) {
    throw new ProtocolError(ErrorCode.InvalidNumber, `${path}: ${JSON.stringify(input)} is not a valid number in its numbering plan`, {
      path,
    });
  }
  return parsed.number as E164;
}

function isValidNumber(candidate: string): boolean {
  try {
    return parsePhoneNumberWithError(candidate).isValid();
  } catch {
    return false;
  }
}
