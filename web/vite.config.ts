// The page's build. Vite bundles web/ into dist/web: index.html, one hashed script and one hashed
// stylesheet under assets/, and public/ as it is. The script and the stylesheet also get .gz and
// .br siblings written here, once, so that the API serves them compressed without compressing per
// request (@fastify/static's preCompressed option picks the sibling the browser accepts). The HTML
// (0.5 KB) and the icon are sent as they are.
import preact from '@preact/preset-vite';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

const gz = promisify(gzip);
const br = promisify(brotliCompress);

function precompress(): Plugin {
  return {
    name: 'precompress',
    apply: 'build',
    async generateBundle(_options, bundle) {
      for (const file of Object.values(bundle)) {
        if (!/\.(js|css)$/.test(file.fileName)) continue;
        const source = file.type === 'chunk' ? file.code : file.source;
        const bytes = typeof source === 'string' ? Buffer.from(source) : Buffer.from(source);
        this.emitFile({ type: 'asset', fileName: `${file.fileName}.gz`, source: await gz(bytes, { level: 9 }) });
        this.emitFile({
          type: 'asset',
          fileName: `${file.fileName}.br`,
          source: await br(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        });
      }
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [preact({ prerender: { enabled: false } }), precompress()],
  // npm run dev:web: the page with hot reload on :5173, the API (npm start) behind it on :8000.
  server: {
    proxy: Object.fromEntries(['/api', '/audio', '/docs'].map((p) => [p, { target: 'http://127.0.0.1:8000' }])),
  },
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    // Node 20's browsers-of-the-day baseline: no transpiling of what every evergreen browser runs.
    target: 'es2022',
    // The CSP allows scripts from this origin only; Vite's module preload polyfill would be inline.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
});
