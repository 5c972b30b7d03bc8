import { EvidenceError, EvidenceErrorCode } from './errors.js';

/**
 * Canonical JSON of a protocol value: the bytes that are hashed and signed.
 *
 * It is RFC 8785 (JSON Canonicalization Scheme) restricted to the protocol's value domain, which has
 * no floats: no whitespace; object members sorted by key, comparing keys as UTF-16 code units;
 * members whose value is `undefined` omitted; integers only (|n| ≤ 2⁵³−1) in plain decimal, `-0` as
 * `0`; strings escaped exactly as ECMAScript `JSON.stringify` does (`\"` `\\` `\b` `\t` `\n` `\f`
 * `\r`, other U+0000–U+001F as `\u00xx` with lowercase hex, everything else literal); the result
 * encoded as UTF-8. Anything else (floats, NaN, bigint, binary, Date, class instances, lone
 * surrogates, `undefined` in an array) is refused, so two implementations can never disagree
 * silently. The protocol README ("Canonical JSON") states the same rules for other languages.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, out, '$');
  return out.join('');
}

/** {@link canonicalJson} as UTF-8 bytes. */
export function canonicalBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value));
}

/** With the `u` flag a surrogate range matches only unpaired surrogates. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function fail(path: string, what: string): never {
  throw new EvidenceError(EvidenceErrorCode.NotCanonical, `cannot canonicalise ${path}: ${what}`);
}

function write(value: unknown, out: string[], path: string): void {
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      if (!Number.isSafeInteger(value)) fail(path, `${value} is not an integer within ±(2^53-1)`);
      out.push(value === 0 ? '0' : String(value));
      return;
    case 'string':
      if (LONE_SURROGATE.test(value)) fail(path, 'string contains a lone surrogate');
      out.push(JSON.stringify(value));
      return;
    case 'object':
      break;
    default:
      fail(path, `a ${typeof value} has no canonical form`);
  }
  if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item: unknown, i) => {
      if (item === undefined) fail(`${path}[${i}]`, 'undefined inside an array');
      if (i > 0) out.push(',');
      write(item, out, `${path}[${i}]`);
    });
    out.push(']');
    return;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) fail(path, 'only plain objects, arrays, strings, integers, booleans and null');
  // Default sort compares UTF-16 code units, as RFC 8785 requires.
  const keys = Object.keys(value).sort();
  out.push('{');
  let first = true;
  for (const key of keys) {
    const member = (value as Record<string, unknown>)[key];
    if (member === undefined) continue;
    if (LONE_SURROGATE.test(key)) fail(path, 'key contains a lone surrogate');
    if (!first) out.push(',');
    first = false;
    out.push(JSON.stringify(key), ':');
    write(member, out, `${path}.${key}`);
  }
  out.push('}');
}
