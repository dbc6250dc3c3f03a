// The page's side of the worker protocol (see worker.js): call(method, args) -> Promise of
// the result, rejected with a WorkerError carrying the Python exception's type and message;
// events ({event, data}) go to the listeners added with on(event, listener).

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
    this.worker.onmessage = ({ data }) => this.receive(data);
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.failAll({ type: "WorkerError", message: event.message || "the worker failed to start" });
    };
  }

  call(method, args = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, method, args });
    });
  }

  // Start fetching what Python will ask for first (see prefetch in worker.js).
  prefetch(urls) {
    if (urls.length) this.worker.postMessage({ prefetch: urls });
  }

  // The signed-in user's token (or null), for the worker's requests (see worker.js).
  setAccessToken(token) {
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

  failAll(error) {
    for (const { reject } of this.pending.values()) reject(new WorkerError(error));
    this.pending.clear();
  }
}
