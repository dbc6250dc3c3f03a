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
//
//   node scripts/pyodide_node.mjs dataclass-code INDEX_DIR OUT_FILE
//       Load Pyodide from a built dist, loadPackage ohifpy, import every module of it while
//       recording the methods dataclasses compiles (ohifpy.dataclass_code), and write them
//       to OUT_FILE for the worker to install before it imports the core. Prints the count.
//
//   node scripts/pyodide_node.mjs pytest INDEX_DIR WHEEL[,WHEEL] PYDICOM_DATA_DIR [PYTEST_ARG...]
//       Run the core's tests under Pyodide from a built dist: loadPackage ohifpy (with
//       numpy and pydicom from the dist's lock, as the browser worker does, and
//       numpy-extras, which the worker never loads), unpack the
//       pure-Python wheels (pytest and its dependencies) into site-packages, link
//       pydicom's test data (PYDICOM_DATA_DIR, the host's pydicom/data: the dist drops
//       it), then pytest.main(PYTEST_ARGS) with paths relative to the current directory.
//       Exits with pytest's exit code. Needs JavaScript Promise integration, so that a
//       test can block on fetch (run_until_complete): under Node 20,
//         node --experimental-wasm-stack-switching scripts/pyodide_node.mjs pytest ...
//       The host's OHIFPY_* environment variables reach os.environ inside Pyodide (the
//       data-source contract reads the URLs of the sites it is served from there).

import { existsSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadPyodide } from "pyodide";

const HOST = "/host"; // the host's root directory, mounted inside Pyodide's file system

function mountHost(pyodide) {
  pyodide.FS.mkdirTree(HOST);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: "/" }, HOST);
}

async function compile(jobsFile) {
  const jobs = JSON.parse(readFileSync(jobsFile, "utf-8"));
  // Bytecode without column positions (as `python -X no_debug_ranges` writes it): smaller
  // .pyc, so less to unpack and unmarshal at every start; tracebacks keep their lines.
  const pyodide = await loadPyodide({ env: { PYTHONNODEBUGRANGES: "1" } });
  mountHost(pyodide);
  const here = dirname(fileURLToPath(import.meta.url));
  const namespace = pyodide.globals.get("dict")();
  pyodide.runPython(readFileSync(join(here, "archive_rewrite.py"), "utf-8"), {
    globals: namespace,
  });
  const rewrite = namespace.get("rewrite_archive");
  for (const job of jobs) {
    // add: a JS object would arrive as a JsProxy; rewrite_archive wants a dict
    const kwargs = { ...job, path: HOST + job.path, compile_py: true, add: pyodide.toPy(job.add ?? {}) };
    const counts = rewrite.callKwargs(kwargs).toJs({ dict_converter: Object.fromEntries });
    console.log(JSON.stringify({ path: job.path, ...counts }));
  }
}

// The dist's precompiled dataclass methods installed as the worker installs them, when the
// dist has them and ohifpy is loaded: a dict, {installed, compiled}, whose "compiled" lists
// the sources the imports still had to compile (none, when the table covers the core).
const COUNT_COMPILED = `
import ohifpy.dataclass_code as dataclass_code
compile_ = dataclass_code._compile
counts = {"installed": dataclass_code.install(blob), "compiled": []}
dataclass_code._compile = lambda source: counts["compiled"].append(source) or compile_(source)
counts
`;

function installDataclassCode(pyodide, indexDir) {
  const file = join(indexDir, "dataclass-code.bin");
  if (!existsSync(file) || !pyodide.loadedPackages.ohifpy) return null;
  const namespace = pyodide.toPy({ blob: new Uint8Array(readFileSync(file)) });
  return pyodide.runPython(COUNT_COMPILED, { globals: namespace });
}

async function smoke(indexDir, packages, modules) {
  const t0 = performance.now();
  const pyodide = await loadPyodide({ indexURL: indexDir + "/" });
  const t1 = performance.now();
  // what ran at start-up: site imports the stdlib zip's sitecustomize before anything else
  const sitecustomize = pyodide.runPython(`import sys\n"sitecustomize" in sys.modules`);
  await pyodide.loadPackage(packages.split(","), { messageCallback: () => {} });
  const dataclassMethods = installDataclassCode(pyodide, indexDir);
  const t2 = performance.now();
  const imported = pyodide.runPython(
    `import importlib\n` +
      `[(m, getattr(importlib.import_module(m), "__version__", "")) for m in ${JSON.stringify(modules.split(","))}]`,
  ).toJs();
  const t3 = performance.now();
  // whether the imported modules' bytecode carries column positions (the build drops them)
  const columns = pyodide.runPython(
    `import sys\nany(p[2] is not None for m in ${JSON.stringify(modules.split(","))}` +
      ` for f in vars(sys.modules[m]).values() if hasattr(f, "__code__")` +
      ` for p in f.__code__.co_positions())`,
  );
  console.log(
    JSON.stringify({
      loadPyodide: Math.round(t1 - t0),
      loadPackage: Math.round(t2 - t1),
      import: Math.round(t3 - t2),
      modules: Object.fromEntries(imported),
      sitecustomize,
      columns,
      dataclassMethods: dataclassMethods && dataclassMethods.toJs({ dict_converter: Object.fromEntries }),
    }),
  );
}

// Every module of the viewer's ohifpy package (the CPython side is another package, not yet
// loaded), imported while numpy-extras is not installed: one that needs it fails here.
const VIEWER_IMPORTS = `
import importlib, pkgutil, ohifpy
names = [m.name for m in pkgutil.walk_packages(ohifpy.__path__, "ohifpy.")]
for name in names:
    importlib.import_module(name)
print(f"the viewer's {len(names)} ohifpy modules import without numpy-extras")
`;

// The viewer's modules imported while recording their dataclass methods (see above).
const RECORD_DATACLASS_CODE = `
import importlib, pkgutil, ohifpy
from ohifpy.dataclass_code import dump, recording
with recording() as table:
    for module in pkgutil.walk_packages(ohifpy.__path__, "ohifpy."):
        importlib.import_module(module.name)
blob = dump(table)
count = len(table)
`;

async function recordDataclassCode(indexDir, outFile) {
  const pyodide = await loadPyodide({ indexURL: indexDir + "/" });
  await pyodide.loadPackage(["ohifpy"], { messageCallback: () => {} });
  const namespace = pyodide.globals.get("dict")();
  pyodide.runPython(RECORD_DATACLASS_CODE, { globals: namespace });
  const blob = namespace.get("blob");
  writeFileSync(outFile, blob.toJs());
  blob.destroy();
  console.log(JSON.stringify({ dataclassMethods: namespace.get("count") }));
}

// Runs inside Pyodide: everything host-side is under HOST. Bytecode and hypothesis's
// example database must not land in the host's tree; fd-level capture (dup2) does not
// exist in Pyodide, hence --capture=sys; pytest-asyncio and pytest-timeout are not
// installed, so their pyproject options are unknown here (a warning, silenced).
const PYTEST_MAIN = `
import importlib, os, sys, zipfile, site
importlib.invalidate_caches()  # numpy-extras came after numpy was imported
sys.dont_write_bytecode = True
os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = "/tmp/.hypothesis"
purelib = site.getsitepackages()[0]
for wheel in wheels:
    zipfile.ZipFile(wheel).extractall(purelib)
import pydicom.data
for name in ("test_files", "charset_files"):
    link = os.path.join(os.path.dirname(pydicom.data.__file__), name)
    if not os.path.exists(link):
        os.symlink(os.path.join(pydicom_data, name), link)
os.chdir(cwd)
import pytest
exit_code = int(pytest.main([
    "--capture=sys", "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestConfigWarning", *args
]))
`;

async function runPytest(indexDir, wheels, pydicomData, pytestArgs) {
  if (!("Suspending" in WebAssembly || "Suspender" in WebAssembly)) {
    // what Pyodide looks for; without it, a test awaiting fetch would fail deep inside
    console.error(
      "pytest under Pyodide needs JavaScript Promise integration:" +
        " run node --experimental-wasm-stack-switching scripts/pyodide_node.mjs pytest ...",
    );
    return 2;
  }
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => name.startsWith("OHIFPY_")),
  );
  const pyodide = await loadPyodide({ indexURL: indexDir + "/", env });
  pyodide.setStdout({ write: (bytes) => writeSync(1, bytes) });
  pyodide.setStderr({ write: (bytes) => writeSync(2, bytes) });
  // numpy.random, numpy.testing and numpy's other on-request modules are a package of
  // their own, as is ohifpy's CPython side (the synthetic studies among it): the viewer
  // never loads them, so every module it ships imports without them; the tests use them.
  await pyodide.loadPackage(["ohifpy"], { messageCallback: () => {} });
  pyodide.runPython(VIEWER_IMPORTS);
  await pyodide.loadPackage(["numpy-extras", "ohifpy-cpython"], { messageCallback: () => {} });
  mountHost(pyodide);
  const namespace = pyodide.toPy({
    wheels: wheels.split(",").map((wheel) => HOST + resolve(wheel)),
    pydicom_data: HOST + resolve(pydicomData),
    cwd: HOST + process.cwd(),
    args: pytestArgs,
  });
  // async: only a call entered this way may suspend on a promise (run_sync)
  await pyodide.runPythonAsync(PYTEST_MAIN, { globals: namespace });
  return namespace.get("exit_code");
}

const [command, ...args] = process.argv.slice(2);
if (command === "compile" && args.length === 1) {
  await compile(args[0]);
} else if (command === "dataclass-code" && args.length === 2) {
  await recordDataclassCode(...args);
} else if (command === "smoke" && args.length === 3) {
  await smoke(...args);
} else if (command === "pytest" && args.length >= 3) {
  process.exitCode = await runPytest(args[0], args[1], args[2], args.slice(3));
} else {
  console.error(
    "usage: pyodide_node.mjs compile JOBS.json | smoke INDEX_DIR PACKAGES MODULES" +
      " | dataclass-code INDEX_DIR OUT_FILE" +
      " | pytest INDEX_DIR WHEEL[,WHEEL] PYDICOM_DATA_DIR [PYTEST_ARG...]",
  );
  process.exit(2);
}
