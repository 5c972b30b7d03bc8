/** Oldest nats-server robotrace runs on: the Debian/Ubuntu package is 2.9.10. */
export const MIN_NATS_SERVER_VERSION = '2.9.0';

/** `'v2.9.10'`, `'2.10.0-beta.1'` → `[2, 9, 10]`; `undefined` when not a version. */
export function parseVersion(version: string): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (m === null) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** True when `version` is at least `min` (pre-release suffixes are ignored). Unparseable is false. */
export function versionAtLeast(version: string, min: string): boolean {
  const a = parseVersion(version);
  const b = parseVersion(min);
  if (a === undefined || b === undefined) return false;
  for (let i = 0; i < 3; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}
