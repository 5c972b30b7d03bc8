import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SECURITY_HEADERS } from './http.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Where `npm run build` puts the client: `dist/viewer/public`. From the compiled server
 * (`dist/viewer/server/`) that is `../public`; from the sources (`viewer/server/`, as the
 * tests run them) it is `../../dist/viewer/public`.
 */
export function defaultPublicDir(): string {
  const candidates = [new URL('../public/', import.meta.url), new URL('../../dist/viewer/public/', import.meta.url)].map((u) => fileURLToPath(u));
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? (candidates[1] as string);
}

/** Serves the built client: hashed assets cached for a year, everything else revalidated. */
export class StaticFiles {
  private indexHtml: Buffer | undefined;

  constructor(readonly dir: string) {}

  get built(): boolean {
    return existsSync(join(this.dir, 'index.html'));
  }

  async index(): Promise<Buffer | undefined> {
    if (this.indexHtml) return this.indexHtml;
    try {
      this.indexHtml = await readFile(join(this.dir, 'index.html'));
    } catch {
      return undefined;
    }
    return this.indexHtml;
  }

  /** Sends the file at URL path `path` if it exists under the directory; false otherwise. */
  async send(res: ServerResponse, path: string): Promise<boolean> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return false;
    }
    const file = normalize(join(this.dir, decoded));
    if (!file.startsWith(this.dir.endsWith(sep) ? this.dir : this.dir + sep)) return false;
    try {
      const info = await stat(file);
      if (!info.isFile()) return false;
      const body = await readFile(file);
      const immutable = decoded.startsWith('/assets/');
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'content-length': body.length,
        'cache-control': immutable ? 'private, max-age=31536000, immutable' : 'no-cache',
      });
      res.end(body);
      return true;
    } catch {
      return false;
    }
  }
}
