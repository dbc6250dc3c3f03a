// The page between the Python console's worker (console_worker.js) and the viewer's
// (worker.js): a cell runs in the console's worker over a snapshot the viewer's worker
// makes (consoleSnapshot: the active viewport's image, and its volume when the cell names
// it; see ohifpy.console.remote), and what it showed goes back to the viewer's worker
// (consoleShow, consoleOverlay). Only these calls pass between them: the console cannot ask
// the viewer's worker anything else, and never sees the access token.
//
// The console's worker starts on first use. Ctrl+C interrupts a cell through a shared
// buffer, which only a cross-origin isolated page has (crossOriginIsolated: served with
// Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp
// or credentialless); elsewhere `interruptible` is false and restart() is the way out.

import { WorkerClient } from "./worker_client.js";

export class ConsoleClient {
  // viewer: the viewer worker's WorkerClient; onOutput({stream, text}) gets a cell's prints.
  constructor(viewer, { onOutput = () => {}, onState = () => {} } = {}) {
    this.viewer = viewer;
    this.onOutput = onOutput;
    this.onState = onState;
    this.client = null;
    this.interrupt = null; // the shared buffer's view, when the page is isolated
    this.ready = false;
  }

  get interruptible() {
    return Boolean(self.crossOriginIsolated && typeof SharedArrayBuffer === "function");
  }

  start() {
    if (this.client) return this.client;
    const worker = new Worker(new URL("console_worker.js", document.baseURI));
    this.client = new WorkerClient(worker);
    this.interrupt = this.interruptible ? new Uint8Array(new SharedArrayBuffer(1)) : null;
    worker.postMessage({ start: { interruptBuffer: this.interrupt?.buffer ?? null } });
    this.client.on("output", (data) => this.onOutput(data));
    this.client.on("ready", () => {
      this.ready = true;
      this.onState("ready");
    });
    this.client.on("fatal", ({ message }) => this.onState("failed", message));
    this.onState("starting");
    return this.client;
  }

  // Run a cell. context: { active() -> {displaySetUID, imageIndex, window}, measurements(),
  // shown(displaySet), overlaid(displaySetUID) }. Resolves {ok}; its output went to onOutput.
  async run(code, context) {
    const client = this.start();
    const needs = await client.call("needs", { code });
    if (needs.error) {
      this.onOutput({ stream: "stderr", text: needs.error });
      return { ok: false };
    }
    const { snapshot, imageData, volumeData } = await this.viewer.call("consoleSnapshot", {
      ...context.active(),
      volume: needs.volume,
      displaySets: needs.displaySets,
      volumes: needs.volumes,
    });
    const transfer = [];
    if (imageData) transfer.push((snapshot.image.data = imageData).buffer);
    if (volumeData) transfer.push((snapshot.volume.data = volumeData).buffer);
    snapshot.measurements = context.measurements();
    const done = await client.call("run", { code, snapshot }, { transfer });
    for (const derived of done.shown) {
      const { displaySet } = await this.viewer.call("consoleShow", { derived }, { transfer: [derived.array.data.buffer] });
      context.shown(displaySet);
    }
    for (const overlay of done.overlays) {
      const { displaySetUID } = await this.viewer.call("consoleOverlay", { overlay }, { transfer: [overlay.mask.data.buffer] });
      context.overlaid(displaySetUID);
    }
    return { ok: done.ok };
  }

  complete(text) {
    return this.start().call("complete", { text });
  }

  help() {
    return this.start().call("help");
  }

  // Ctrl+C: true if the running cell was told to stop (KeyboardInterrupt).
  stop() {
    if (!this.interrupt) return false;
    this.interrupt[0] = 2; // SIGINT, which Pyodide checks as the cell runs
    return true;
  }

  // A fresh console (its names forgotten): the only way out of a cell on a page that is not
  // cross-origin isolated.
  restart() {
    this.client?.worker.terminate();
    this.client?.fail("the console was restarted");
    this.client = null;
    this.ready = false;
    return this.start();
  }

  destroy() {
    this.client?.worker.terminate();
    this.client = null;
  }
}
