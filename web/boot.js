// Starts the Python worker before the page's modules load: Pyodide takes a second or two
// to start, the modules a few milliseconds each, so nothing should wait for them.
// app.js adopts this worker (WorkerClient).
"use strict";
self.ohifpyWorker = new Worker(new URL("worker.js", document.baseURI));
