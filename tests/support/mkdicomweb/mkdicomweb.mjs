// OHIF's `mkdicomweb` (npm @radicalimaging/static-wado-creator, a devDependency), runnable here.
//
// Usage: node tests/support/mkdicomweb/mkdicomweb.mjs create -o OUT_DIR FILE_OR_DIR...
//
// Why not its bin: the package's lib/ needs @radicalimaging/cs3d and static-wado-util >= 1.7,
// which the npm registry does not have (package.json's devDependencies satisfy both with the
// placeholder in ./bundled so npm installs the rest). Its dist/index.js bundles both and runs,
// but it was bundled on Windows: it loads canvas's native addon from a Windows DLL beside it
// and resolves jsdom's synchronous-XHR worker by an absolute Z:\ path. The two hooks below
// load canvas 3.1.0 (the version bundled, built from source by `npm ci`) instead of the DLL,
// and let that one Windows path resolve as itself (synchronous XHR is never used here).
//
// The creator reads ./static-wado.json5 and ~/static-wado.json5 if present: run it with an
// empty working directory and HOME.

import Module, { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  // The bundle is an ES module in a .js file of a package without "type": "module".
  console.error(`mkdicomweb's bundle needs Node 20.19+ (ES module syntax detection), not ${process.version}`);
  process.exit(2);
}

const require = createRequire(import.meta.url);
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const bundle = `${repo}node_modules/@radicalimaging/static-wado-creator/dist/index.js`;
const canvasAddon = require.resolve('canvas/build/Release/canvas.node', { paths: [repo] });

const loadAddon = Module._extensions['.node'];
Module._extensions['.node'] = (module, filename) =>
  loadAddon(module, /[\\/]canvas-[0-9a-z]+\.node$/.test(filename) ? canvasAddon : filename);

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function resolveWindowsPath(request, ...rest) {
  return /^[A-Za-z]:\\/.test(request) ? request : resolveFilename.call(this, request, ...rest);
};

const { default: StaticWado } = await import(bundle);
await StaticWado.configureProgram(StaticWado.mkdicomwebConfig);
