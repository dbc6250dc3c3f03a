// The codec workers (web/codec_worker.js) of the Python worker: a frame's codestream goes
// to the least busy one and its decoded buffer comes back, both transferred, not copied.
//
//   const pool = CodecPool.create(url)   // null where workers cannot start here, or one core
//   await pool.decode(codec, encoded, bytesPerSample) -> {decoded, info}   (see codecs.js)
//                                                        | null: no codec worker starts,
//                                                          decode in the caller's thread
"use strict";

class CodecPool {
  // One codec worker a core (up to 4); on one core a pool only adds messages.
  static create(url) {
    const size = Math.min(self.navigator?.hardwareConcurrency ?? 1, 4);
    if (typeof Worker === "undefined" || size < 2) return null;
    return new CodecPool(url, size);
  }

  constructor(url, size) {
    this.url = url;
    this.size = size;
    this.slots = []; // {worker, busy, answered}: started by the first frames, not with Python
    this.pending = new Map(); // id -> {resolve, reject, slot}
    this.nextId = 0;
    this.broken = false; // a codec worker failed to start: none will
  }

  decode(codec, encoded, bytesPerSample) {
    if (this.broken) return Promise.resolve(null);
    let slot = this.slots.find((candidate) => candidate.busy === 0);
    // Another worker starts once the others have their codec: loading it twice at once
    // would slow the first image down.
    if (!slot && this.slots.length < this.size && this.slots.every((other) => other.answered)) {
      slot = this.start();
    }
    slot ??= this.slots.reduce((best, next) => (next.busy < best.busy ? next : best));
    const id = ++this.nextId;
    slot.busy += 1;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot });
      slot.worker.postMessage({ id, codec, encoded, bytesPerSample }, [encoded.buffer]);
    });
  }

  start() {
    const slot = { worker: new Worker(this.url), busy: 0, answered: false };
    slot.worker.onmessage = ({ data }) => {
      slot.answered = true;
      this.settle(data);
    };
    slot.worker.onerror = (event) => {
      event.preventDefault();
      this.fail(slot);
    };
    this.slots.push(slot);
    return slot;
  }

  settle({ id, decoded, info, error }) {
    const request = this.pending.get(id);
    if (!request) return;
    this.pending.delete(id);
    request.slot.busy -= 1;
    if (error === undefined) request.resolve(decoded === undefined ? null : { decoded, info });
    else request.reject(new Error(error));
  }

  // A worker that failed is dropped and its frames go back to the caller (null); one that
  // never answered could not start (its script did not load): the pool gives up.
  fail(slot) {
    slot.worker.terminate();
    this.slots.splice(this.slots.indexOf(slot), 1);
    this.broken ||= !slot.answered;
    for (const [id, request] of this.pending) {
      if (request.slot === slot) this.settle({ id });
    }
  }
}
