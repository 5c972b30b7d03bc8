import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The browser client of the viewer: Preact, compiled by Vite's own JSX transform (no plugin),
// written to dist/viewer/public where the viewer's server finds it. Nothing is loaded from
// the internet at run time: every script, style and font is in the bundle or the system's.
export default defineConfig({
  root: fileURLToPath(new URL('./client/', import.meta.url)),
  base: '/',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/viewer/public/', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    assetsInlineLimit: 0,
  },
});
