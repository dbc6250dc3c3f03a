// The Python console's worker: a Pyodide of its own running ohifpy.console.remote, so a cell
// that computes for seconds never holds up the viewer's worker (scrolling, window/level),
// and no cell can reach the viewer's access token: it is never sent here. It speaks the
// viewer worker's protocol (worker_client.js):
//
//   page -> worker   {id, method, args}  needs {code} | run {code, snapshot} | complete {text} | help
//   worker -> page   {id, result} | {id, error: {type, message}}
//   worker -> page   {event: "output", data: {stream, text}}   (a cell's prints, as they come)
//   worker -> page   {event: "ready"} | {event: "fatal", data: {message}}
//   page -> worker   {start: {interruptBuffer}}   (first; a SharedArrayBuffer when the page
//                                                 is cross-origin isolated: Ctrl+C, else null)
//
// Once Python is up, the worker is confined: requests only to this site (the packages the
// build bundles), no sockets, no other workers, no scripts, no eval. What a cell made
// (show, overlay) goes back in the run's answer; the page hands it to the viewer's worker.
"use strict";

const BASE = new URL(".", self.location.href).href;

let interruptBuffer = null;
let receiveStart;
const started = new Promise((resolve) => (receiveStart = resolve));

const emit = (event, data) => self.postMessage({ event, data });

// Requests only to this site; everything else that reaches out is gone.
function confine() {
  const site = self.location.origin;
  const refuse = (what) =>
    function () {
      throw new TypeError(`the Python console may not ${what}`); // called, or with new
    };
  const onSite = (url, what) => {
    const origin = new URL(String(url), self.location.href).origin;
    if (origin !== site) throw new TypeError(`the Python console may not ${what} ${origin}: only this site`);
  };
  const lock = (object, name, value) => Object.defineProperty(object, name, { value, writable: false, configurable: false });
  const nativeFetch = self.fetch.bind(self);
  lock(self, "fetch", (input, init) => {
    onSite(input instanceof Request ? input.url : input, "fetch from"); // thrown at once: a cell sees it
    return nativeFetch(input, init);
  });
  const open = XMLHttpRequest.prototype.open;
  lock(XMLHttpRequest.prototype, "open", function (method, url, ...rest) {
    onSite(url, "request");
    return open.call(this, method, url, ...rest);
  });
  for (const name of ["WebSocket", "EventSource", "WebTransport", "Worker", "SharedWorker", "importScripts", "eval"]) {
    if (name in self) lock(self, name, refuse(`use ${name}`));
  }
  if (self.Cache) for (const name of ["add", "addAll"]) lock(Cache.prototype, name, refuse("fill a cache"));
  // Code from strings: the constructors of every kind of function, replaced by ones that
  // refuse but keep their prototype (instanceof Function still holds).
  const kinds = [function () {}, async function () {}, function* () {}, async function* () {}];
  for (const kind of kinds) {
    const prototype = Object.getPrototypeOf(kind);
    const blocked = refuse("compile code from text");
    blocked.prototype = prototype;
    lock(prototype, "constructor", blocked);
    if (prototype === Function.prototype) lock(self, "Function", blocked);
  }
}

const booting = (async () => {
  await started;
  importScripts(BASE + "pyodide/pyodide.js");
  // numpy's extras (random, fft, linalg, ma, ...), which the viewer leaves out, are a
  // console user's everyday tools.
  const pyodide = await loadPyodide({ indexURL: BASE + "pyodide/", packages: ["ohifpy", "numpy-extras"] });
  if (interruptBuffer) pyodide.setInterruptBuffer(interruptBuffer);
  const remote = pyodide.pyimport("ohifpy.console.remote");
  const session = remote.ConsoleSession((stream, text) => emit("output", { stream, text }));
  remote.destroy();
  confine();
  emit("ready", { interruptible: Boolean(interruptBuffer) });
  return { pyodide, session };
})();
booting.catch((error) => emit("fatal", { message: `Python could not start for the console: ${error?.message ?? error}` }));

// A Python answer as JS; bytes (arrays of show and overlay) become buffers moved to the page.
function answer(value) {
  const result = value?.toJs ? value.toJs({ dict_converter: Object.fromEntries }) : value;
  value?.destroy?.();
  const transfer = [];
  const collect = (item) => {
    if (item instanceof Uint8Array) transfer.push(item.buffer);
    else if (Array.isArray(item)) item.forEach(collect);
    else if (item && typeof item === "object") Object.values(item).forEach(collect);
  };
  collect(result);
  return [result, transfer];
}

const methods = {
  needs: ({ session }, { code }) => session.needs(code),
  async run({ pyodide, session }, { code, snapshot }) {
    // Packages the build bundles, imported by the cell, load first (from this site).
    await pyodide.loadPackagesFromImports(code, { messageCallback: () => {}, errorCallback: () => {} }).catch(() => {});
    if (interruptBuffer) interruptBuffer[0] = 0; // a Ctrl+C between cells is no interrupt
    const pySnapshot = pyodide.toPy(snapshot);
    try {
      return session.run(code, pySnapshot);
    } finally {
      pySnapshot.destroy();
    }
  },
  complete: ({ session }, { text }) => session.complete(text),
  help: ({ session }) => session.help(),
};

self.onmessage = async ({ data }) => {
  if (data.start) {
    if (data.start.interruptBuffer) interruptBuffer = new Uint8Array(data.start.interruptBuffer);
    receiveStart();
    return;
  }
  const { id, method, args } = data;
  let reply, transfer;
  try {
    const runtime = await booting;
    if (!Object.hasOwn(methods, method)) throw new Error(`no console method ${method}`);
    [reply, transfer] = answer(await methods[method](runtime, args ?? {}));
    reply = { result: reply };
  } catch (error) {
    reply = { error: { type: error?.type ?? error?.name ?? "Error", message: String(error?.message ?? error) } };
  }
  self.postMessage({ id, ...reply }, transfer ?? []);
};
