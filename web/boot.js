// Starts the Python worker before the page's ES modules load: Pyodide takes a second or two
// to start, the modules a few milliseconds each, so nothing should wait for them.
// app.js adopts this worker (WorkerClient).
//
// The page also compiles Pyodide's runtime (pyodide.asm.wasm) and hands the worker the
// module: Chromium keeps the optimised code of a WebAssembly module compiled from a streamed
// response on a page, not in a dedicated worker, so on every start after the first the
// interpreter runs optimised code from its first instruction (Pyodide's start ~1 s faster).
// If the page cannot compile it (no compileStreaming, a failed download), it sends null and
// the worker loads the runtime itself.
"use strict";
{
  const worker = new Worker(new URL("worker.js", document.baseURI));
  const runtime = new URL("pyodide/pyodide.asm.wasm", document.baseURI);
  Promise.resolve()
    .then(() => WebAssembly.compileStreaming(fetch(runtime)))
    .catch(() => null)
    .then((module) => worker.postMessage({ pyodideModule: module }));
  self.ohifpyWorker = worker;
}
