// The page's side of the worker protocol (see worker.js): call(method, args) -> Promise of
// the result, rejected with a WorkerError carrying the Python exception's type and message;
// events ({event, data}) go to the listeners added with on(event, listener).
//
// A worker that cannot go on (it did not start, its runtime failed, an error escaped it)
// is `failed`: its message goes to the "fatal" listeners once, pending calls are rejected
// with it and later calls at once, never left waiting. A call may also set a time limit.

export class WorkerError extends Error {
  constructor({ type, message }) {
    super(message);
    this.name = "WorkerError";
    this.type = type;
  }
}

export class WorkerClient {
  constructor(worker) {
    this.worker = worker;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = new Map();
    this.failed = null;
    this.accessToken = null;
    this.worker.onmessage = ({ data }) => this.receive(data);
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.fail(event.message || "the Python worker stopped");
    };
    if (self.ohifpyWorkerFailure) this.fail(self.ohifpyWorkerFailure); // before this page adopted it
  }

  // transfer: buffers in args moved to the worker, not copied (they are unusable here after).
  call(method, args = {}, { timeoutMs = 0, transfer = [] } = {}) {
    if (this.failed !== null) return Promise.reject(new WorkerError({ type: "WorkerFailed", message: this.failed }));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, method, args }, transfer);
      if (timeoutMs > 0) {
        setTimeout(() => {
          if (!this.pending.delete(id)) return;
          reject(new WorkerError({ type: "Timeout", message: `Python did not answer ${method} within ${timeoutMs / 1000} s` }));
        }, timeoutMs);
      }
    });
  }

  // Start fetching what Python will ask for first (see prefetch in worker.js).
  prefetch(urls) {
    if (urls.length) this.worker.postMessage({ prefetch: urls });
  }

  // The signed-in user's token (or null), for the worker's requests (see worker.js).
  // Kept here too for the page's one request of its own (the preview, preview.js).
  setAccessToken(token) {
    this.accessToken = token ?? null;
    this.worker.postMessage({ accessToken: token ?? null });
  }

  // Give a result's buffer back once it is drawn; the worker fills it with a later image.
  recycle(buffer) {
    if (buffer.byteLength) this.worker.postMessage({ recycle: buffer }, [buffer]);
  }

  on(event, listener) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(listener);
    return () => this.listeners.get(event).delete(listener);
  }

  receive(message) {
    if (message.event === "fatal") {
      this.fail(message.data.message);
      return;
    }
    if (message.event !== undefined) {
      for (const listener of this.listeners.get(message.event) ?? []) listener(message.data);
      return;
    }
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (message.error) waiter.reject(new WorkerError(message.error));
    else waiter.resolve(message.result);
  }

  fail(message) {
    if (this.failed !== null) return;
    this.failed = message;
    for (const { reject } of this.pending.values()) reject(new WorkerError({ type: "WorkerFailed", message }));
    this.pending.clear();
    for (const listener of this.listeners.get("fatal") ?? []) listener({ message });
  }
}
