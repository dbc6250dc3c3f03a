// Pyodide under Node for the static build (scripts/build_static.py runs this).
//
//   node scripts/pyodide_node.mjs compile JOBS.json
//       Precompile archives to CPython 3.12 bytecode with Pyodide's own interpreter
//       (the build machine's CPython is another version). JOBS.json is a list of
//       keyword arguments for rewrite_archive() in scripts/archive_rewrite.py, each
//       with an absolute host "path"; prints one JSON line of counts per job.
//
//   node scripts/pyodide_node.mjs smoke INDEX_DIR PACKAGE[,PACKAGE] MODULE[,MODULE]
//       Load Pyodide from a built dist (INDEX_DIR = dist/pyodide, its own lock and
//       stdlib), loadPackage the packages, import the modules; prints JSON timings (ms).

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadPyodide } from "pyodide";

const HOST = "/host"; // the host's root directory, mounted inside Pyodide's file system

function mountHost(pyodide) {
  pyodide.FS.mkdirTree(HOST);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: "/" }, HOST);
}

async function compile(jobsFile) {
  const jobs = JSON.parse(readFileSync(jobsFile, "utf-8"));
  const pyodide = await loadPyodide();
  mountHost(pyodide);
  const here = dirname(fileURLToPath(import.meta.url));
  const namespace = pyodide.globals.get("dict")();
  pyodide.runPython(readFileSync(join(here, "archive_rewrite.py"), "utf-8"), {
    globals: namespace,
  });
  const rewrite = namespace.get("rewrite_archive");
  for (const job of jobs) {
    const kwargs = { ...job, path: HOST + job.path, compile_py: true };
    const counts = rewrite.callKwargs(kwargs).toJs({ dict_converter: Object.fromEntries });
    console.log(JSON.stringify({ path: job.path, ...counts }));
  }
}

async function smoke(indexDir, packages, modules) {
  const t0 = performance.now();
  const pyodide = await loadPyodide({ indexURL: indexDir + "/" });
  const t1 = performance.now();
  await pyodide.loadPackage(packages.split(","), { messageCallback: () => {} });
  const t2 = performance.now();
  const imported = pyodide.runPython(
    `import importlib\n` +
      `[(m, getattr(importlib.import_module(m), "__version__", "")) for m in ${JSON.stringify(modules.split(","))}]`,
  ).toJs();
  const t3 = performance.now();
  console.log(
    JSON.stringify({
      loadPyodide: Math.round(t1 - t0),
      loadPackage: Math.round(t2 - t1),
      import: Math.round(t3 - t2),
      modules: Object.fromEntries(imported),
    }),
  );
}

const [command, ...args] = process.argv.slice(2);
if (command === "compile" && args.length === 1) {
  await compile(args[0]);
} else if (command === "smoke" && args.length === 3) {
  await smoke(...args);
} else {
  console.error("usage: pyodide_node.mjs compile JOBS.json | smoke INDEX_DIR PACKAGES MODULES");
  process.exit(2);
}
