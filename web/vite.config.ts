/**
 * Builds the browser client into `dist/web`, which every edge serves at `/`.
 * `npm run build:web` runs it; `npm start` and the e2e tests' global setup call that script when the
 * build is missing or older than the sources.
 */
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // One small bundle: the first paint waits on it, so no code splitting.
    modulePreload: false,
    reportCompressedSize: false,
  },
  server: {
    // `npx vite --config web/vite.config.ts` for UI work: API and WebSocket calls go to a running `npm start`.
    proxy: {
      '/api': 'http://localhost:3000',
      '/ws': { target: 'ws://localhost:3000', ws: true },
    },
  },
});
