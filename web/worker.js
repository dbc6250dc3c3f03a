// The Python worker: Pyodide, the ohifpy package and the WebAssembly codecs, behind one
// message protocol (see worker_client.js for the page's side of it):
//
//   page -> worker   {id, method, args}
//   worker -> page   {id, result} | {id, error: {type, message}}   (buffers transferred)
//   worker -> page   {event, data}                                  (progress, ...)
//   page -> worker   {recycle: ArrayBuffer}       (a drawn image's buffer, for reuse)
//   page -> worker   {prefetch: [url, ...]}       (metadata the viewer will ask for)
//   page -> worker   {accessToken: string | null}  (the signed-in user's token, when it changes)
//   worker -> page   {event: "token-needed"}       (a server answered 401: renew, or sign in)
//   page -> worker   {pyodideModule: WebAssembly.Module | null}   (first, from boot.js)
//   worker -> page   {event: "startup", data: [[mark, epoch ms], ...]} (once, see boot.js)
//   worker -> page   {event: "fatal", data: {message}}  (Python cannot run: it did not start,
//                                                        or its runtime failed for good)
//
// Every method is ohifpy.worker_api.WorkerAPI.handle(method, args) in Python; this file
// only boots the runtime and converts between JS and Python values. It is a classic
// worker because the codecs are classic Emscripten scripts (importScripts); the one
// ES-module codec comes in with import().
"use strict";

const BASE = new URL(".", self.location.href).href; // the site's base path: worker.js sits there

// Start-up phases, as User Timing marks for the page (boot.js records them): where a
// start's time goes, the runtime's own part (Pyodide, numpy, pydicom) apart from ours.
const startup = [];
const phase = (name) => startup.push([name, performance.timeOrigin + performance.now()]);
phase("ohifpy:worker-started");

// Why Python can no longer answer, once it cannot: every later request is told at once.
let fatal = null;
function die(message) {
  if (fatal !== null) return;
  fatal = message;
  emit("fatal", { message });
}

try {
  importScripts(BASE + "pyodide/pyodide.js");
} catch (error) {
  die(`the Python runtime could not be loaded (${error.message})`);
}

// Codecs load on first use (web/codecs.js): most studies need one codec or none, and
// loading all of them would compete with Python's start. Frames decode in the codec pool
// (web/codec_pool.js) where one can start; here only when none can, or for Python's
// synchronous callers (see ohifpy.imaging.wasm_codecs).
try {
  importScripts(BASE + "codecs.js", BASE + "codec_pool.js");
} catch (error) {
  die(`the codecs could not be loaded (${error.message})`);
}
const codecPool = fatal === null ? CodecPool.create(BASE + "codec_worker.js") : null;

// The signed-in user's access token (web/auth.js), as the page last sent it. Python reads
// it at every request (ohifpy.dicomweb.bearer decides which servers get it); after a 401
// it asks for a new one and waits: the page answers with the renewed token, or with the
// one the user signs in again for, or null.
let accessToken = null;
const tokenWaiters = [];

function receiveAccessToken(token) {
  accessToken = token || null;
  for (const resolve of tokenWaiters.splice(0)) resolve(accessToken ?? undefined);
}

function renewAccessToken() {
  return new Promise((resolve) => {
    tokenWaiters.push(resolve);
    if (tokenWaiters.length === 1) emit("token-needed", {});
  });
}

// Requests the page knows the viewer will make (a study's metadata) start here while
// Python starts; the fetch transport takes the answer instead of asking again.
const prefetched = new Map(); // url -> Promise of the Response (null if it failed)

function prefetch(urls) {
  for (const url of urls) {
    if (prefetched.has(url)) continue;
    // The page lists only its configured server's URLs, so they may carry the token.
    const headers = { Accept: "application/dicom+json" };
    if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
    const init = { headers, cache: "no-store", credentials: "same-origin" };
    prefetched.set(url, fetch(url, init).catch(() => null));
  }
}

// Pyodide instantiates its runtime with WebAssembly.instantiateStreaming(fetch(...)); its one
// call takes the module the page compiled instead (see boot.js), and drops the download.
let receivePyodideModule;
const pyodideModule = new Promise((resolve) => (receivePyodideModule = resolve));
const instantiateStreaming = WebAssembly.instantiateStreaming;
WebAssembly.instantiateStreaming = async (source, imports) => {
  WebAssembly.instantiateStreaming = instantiateStreaming;
  const module = await pyodideModule;
  if (!module) return instantiateStreaming(source, imports);
  Promise.resolve(source).then((response) => response.body?.cancel(), () => {});
  return { module, instance: await WebAssembly.instantiate(module, imports) };
};

// The core's dataclass methods, compiled when the site was built (ohifpy.dataclass_code):
// fetched while Pyodide starts, handed to Python before the core is imported. Without
// them (a build that has none) dataclasses compiles them as usual.
const dataclassCode = fetch(BASE + "pyodide/dataclass-code.bin")
  .then((response) => (response.ok ? response.arrayBuffer() : null))
  .catch(() => null);

async function installDataclassCode(pyodide) {
  const code = await dataclassCode;
  if (!code) return;
  const module = pyodide.pyimport("ohifpy.dataclass_code");
  const blob = pyodide.toPy(new Uint8Array(code));
  try {
    module.install(blob);
  } finally {
    blob.destroy();
    module.destroy();
  }
}

// Pyodide with ohifpy imported: the runtime and ohifpy.worker_api.
async function loadPython() {
  // Packages named here download while the interpreter starts, not after it.
  const pyodide = await loadPyodide({ indexURL: BASE + "pyodide/", packages: ["ohifpy"] });
  phase("ohifpy:python-started"); // the interpreter, packages installed
  await installDataclassCode(pyodide);
  pyodide.pyimport("pydicom").destroy(); // and numpy: the libraries ohifpy builds on
  phase("ohifpy:libraries-imported");
  const workerApi = pyodide.pyimport("ohifpy.worker_api");
  phase("ohifpy:core-imported");
  emit("startup", startup);
  return { pyodide, workerApi };
}

function emit(event, data) {
  self.postMessage({ event, data });
}

const booting = (async () => {
  const { pyodide, workerApi } = await loadPython();
  const api = workerApi.create_for_browser(emit, loadCodec, prefetched, () => accessToken ?? undefined, renewAccessToken,
                                             codecPool);
  workerApi.destroy();
  return { pyodide, api };
})();
booting.catch((error) => die(`Python could not start: ${error?.message ?? error}`));

// Pyodide marks the error that ended its runtime (out of memory, a crash in WebAssembly);
// after it every call fails with "Pyodide already fatally failed".
const endsRuntime = (error) => Boolean(error?.pyodide_fatal_error) || /Pyodide already (fatally failed|exited)/.test(String(error?.message));

// Buffers the page has drawn and handed back (see WorkerClient.recycle): writing into
// memory already in use is much faster than into fresh pages.
const spares = [];
const MAX_SPARES = 4;

function bufferFor(view) {
  const index = spares.findIndex((spare) => spare.byteLength === view.byteLength);
  if (index < 0) return view.slice();
  const copy = new Uint8Array(spares.splice(index, 1)[0]);
  copy.set(view);
  return copy;
}

// A Python answer as JS. Arrays in the result (image pixels) are copied once, straight
// out of the WebAssembly heap, into buffers that then move to the page (transferred).
function answerToJs(answer) {
  const result = answer.get("result");
  const buffers = {};
  if (result?.type === "dict") {
    const keys = result.keys();
    const names = [...keys];
    keys.destroy();
    for (const key of names) {
      const value = result.get(key);
      if (value?.getBuffer) {
        const view = value.getBuffer("u8");
        buffers[key] = bufferFor(view.data);
        view.release();
        result.delete(key); // copied: keep toJs from converting it again
      }
      value?.destroy?.();
    }
  }
  result?.destroy?.();
  const reply = answer.toJs({ dict_converter: Object.fromEntries });
  if (reply.result) Object.assign(reply.result, buffers);
  return [reply, Object.values(buffers).map((buffer) => buffer.buffer)];
}

self.onmessage = async ({ data: { id, method, args, recycle, prefetch: urls, pyodideModule: module, accessToken: token } }) => {
  if (token !== undefined) {
    receiveAccessToken(token);
    return;
  }
  if (module !== undefined) {
    receivePyodideModule(module);
    return;
  }
  if (urls) {
    prefetch(urls);
    return;
  }
  if (recycle) {
    spares.push(recycle);
    spares.splice(0, spares.length - MAX_SPARES);
    return;
  }
  let reply, transfer;
  try {
    if (fatal !== null) throw Object.assign(new Error(fatal), { type: "WorkerFailed" });
    const { pyodide, api } = await booting;
    const pyArgs = pyodide.toPy(args ?? {});
    try {
      const answer = await api.handle(method, pyArgs);
      [reply, transfer] = answerToJs(answer);
      answer.destroy();
    } finally {
      pyArgs.destroy();
    }
  } catch (error) {
    if (endsRuntime(error)) die(`Python stopped: ${error.message}`);
    reply = { error: { type: error?.type ?? error?.name ?? "Error", message: String(error?.message ?? error) } };
  }
  self.postMessage({ id, ...reply }, transfer ?? []);
};
