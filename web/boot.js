// Starts the Python worker before the page's ES modules load: Pyodide takes a second or two
// to start, the modules a few milliseconds each, so nothing should wait for them.
// app.js adopts this worker (WorkerClient).
//
// The page also compiles Pyodide's runtime (pyodide.asm.wasm) and hands the worker the
// module. Measured in Chromium: on a reload in the same tab the page gets back the module it
// compiled before, optimised code included, so the interpreter runs fast from its first
// instruction (Pyodide's start ~1 s faster); a module the worker compiled is gone with the
// worker. A new tab (another renderer process) gets what Chromium's code cache kept of the
// module on disk (traced: wasm.Deserialize, then the functions not kept compile again).
// If the page cannot compile it (no compileStreaming, a failed download), it sends null
// and the worker loads the runtime itself. ohifpy:runtime-compiled marks the compile's end.
"use strict";
{
  const worker = new Worker(new URL("worker.js", document.baseURI));
  const runtime = new URL("pyodide/pyodide.asm.wasm", document.baseURI);
  Promise.resolve()
    .then(() => WebAssembly.compileStreaming(fetch(runtime)))
    .then((module) => (performance.mark("ohifpy:runtime-compiled"), module))
    .catch(() => null)
    .then((module) => worker.postMessage({ pyodideModule: module }));
  // The worker's start-up phases (worker.js), marked on the page's timeline next to
  // ohifpy:runtime-ready; listened for here, as the worker may finish before app.js runs.
  const markStartup = ({ data }) => {
    if (data?.event !== "startup") return;
    worker.removeEventListener("message", markStartup);
    for (const [name, epoch] of data.data) performance.mark(name, { startTime: epoch - performance.timeOrigin });
  };
  worker.addEventListener("message", markStartup);
  // A worker that fails before app.js adopts it (a script that did not load) is told to the
  // page all the same: the first failure is kept here for WorkerClient.
  const failed = (message) => (self.ohifpyWorkerFailure ??= message);
  worker.addEventListener("error", (event) => failed(event.message || "the Python worker could not start"));
  worker.addEventListener("message", ({ data }) => data?.event === "fatal" && failed(data.data.message));
  self.ohifpyWorker = worker;
}
