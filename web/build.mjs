// Bundle the editor into dist/:
//   dist/index.html               no-cache: always revalidated
//   dist/assets/app-<hash>.js     CodeMirror + sharedb client, immutable
//   dist/assets/app-<hash>.css    immutable
// Content hashes in the asset names let servers and CDNs cache them for a
// year while index.html picks up every new build.
// `node build.mjs --watch` rebuilds on every change (names without hash).
import {mkdir, readFile, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import * as esbuild from 'esbuild';

const watch = process.argv.includes('--watch');

const options = {
  entryPoints: ['src/app.js', 'src/app.css'],
  outdir: 'dist/assets',
  entryNames: watch ? '[name]' : '[name]-[hash]',
  bundle: true,
  format: 'iife',
  target: ['es2020'],
  minify: !watch,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: true,
  // sharedb's client expects a few node-isms
  define: {'process.env.NODE_ENV': '"production"', global: 'globalThis'},
};

// point index.html at the built files
async function writeIndex(metafile) {
  let html = await readFile('src/index.html', 'utf8');

  for (const [out, info] of Object.entries(metafile.outputs)) {
    if (info.entryPoint) {
      const name = path.basename(info.entryPoint);
      html = html.replace(`"${name}"`, `"assets/${path.basename(out)}"`);
    }
  }
  await writeFile('dist/index.html', html);
}

await rm('dist', {recursive: true, force: true});
await mkdir('dist/assets', {recursive: true});

if (watch) {
  const ctx = await esbuild.context({
    ...options,
    plugins: [{
      name: 'index',
      setup(build) {
        build.onEnd((r) => r.metafile && writeIndex(r.metafile));
      },
    }],
  });
  await ctx.watch();
  console.log('web: watching src/');
} else {
  const result = await esbuild.build(options);
  await writeIndex(result.metafile);
  console.log('web: built dist/');
}
