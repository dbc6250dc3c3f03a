// One viewport: a canvas holding the image at its own size (1 canvas pixel = 1 image
// pixel, painted from the worker's RGBA), overlay text, and the interactions.
//
// Zoom, pan, rotation and flips are a CSS transform of that canvas: the main thread
// changes them without asking the worker. Window/level and inversion change the pixels,
// so they ask the worker to re-render from its cached decoded frame; requests are
// coalesced, at most one in flight, always for the latest state.

const WHEEL_STEP = 1;

function text(className) {
  const node = document.createElement("div");
  node.className = className;
  return node;
}

export class Viewport {
  constructor(worker, { onDraw = () => {}, onError = () => {} } = {}) {
    this.worker = worker;
    this.onDraw = onDraw;
    this.onError = onError;
    this.element = document.createElement("div");
    this.element.className = "viewport";
    this.element.tabIndex = 0;
    this.canvas = document.createElement("canvas");
    this.canvas.width = this.canvas.height = 0;
    this.context = this.canvas.getContext("2d", { alpha: false });
    this.corners = ["top-left", "top-right", "bottom-left", "bottom-right"].map((c) => text(`overlay ${c}`));
    this.message = text("viewport-message");
    this.element.append(this.canvas, ...this.corners, this.message);
    this.displaySet = null;
    this.busy = false;
    this.dirty = false;
    this.initContractStandIn(); // measure stand-in
    this.resetView();
    this.listen();
  }

  // ---------------------------------------------------------------- state

  resetView() {
    this.window = null; // null: each image's own default window
    this.invert = false;
    this.zoom = 1;
    this.pan = [0, 0];
    this.rotation = 0;
    this.flip = [1, 1];
    this.layout();
  }

  setDisplaySet(displaySet, index = 0) {
    this.displaySet = displaySet;
    this.index = Math.min(Math.max(index, 0), displaySet.numImages - 1);
    this.canvas.dataset.seriesUid = displaySet.seriesInstanceUID;
    this.canvas.dataset.displaySetUid = displaySet.displaySetUID;
    this.resetView();
    this.render();
  }

  scroll(delta) {
    if (!this.displaySet) return;
    const index = Math.min(Math.max(this.index + delta, 0), this.displaySet.numImages - 1);
    if (index === this.index) return;
    this.index = index;
    this.render();
  }

  setWindow(window) {
    this.window = { center: window.center, width: Math.max(1, window.width) };
    this.render();
  }

  // ---------------------------------------------------------------- rendering

  render() {
    this.dirty = true;
    if (!this.busy) this.pump();
  }

  async pump() {
    this.busy = true;
    while (this.dirty && this.displaySet) {
      this.dirty = false;
      const request = {
        displaySetUID: this.displaySet.displaySetUID,
        imageIndex: this.index,
        window: this.window,
        invert: this.invert,
      };
      try {
        const result = await this.worker.call("renderImage", request);
        if (request.displaySetUID === this.displaySet?.displaySetUID) this.draw(result);
      } catch (error) {
        if (request.displaySetUID === this.displaySet?.displaySetUID) this.fail(request, error);
      }
    }
    this.busy = false;
  }

  draw(result) {
    const { width, height, rgba } = result;
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
      this.layout();
    }
    const pixels = new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.byteLength);
    this.context.putImageData(new ImageData(pixels, width, height), 0, 0);
    this.worker.recycle(rgba.buffer); // copied into the canvas: the worker may reuse it
    this.drawnWindow = result.window;
    const data = this.canvas.dataset;
    data.imageIndex = String(result.imageIndex);
    data.sopInstanceUid = result.overlay.sopInstanceUID;
    data.frameNumber = String(result.overlay.frameNumber);
    data.windowCenter = result.window ? String(result.window.center) : "";
    data.windowWidth = result.window ? String(result.window.width) : "";
    this.canvas.hidden = false;
    this.element.classList.remove("failed");
    this.message.textContent = "";
    this.overlay = result.overlay;
    this.writeOverlay(result.overlay);
    this.dispatchEvent(new CustomEvent("imagechange", { detail: this.imageDetail(result) })); // measure stand-in
    this.onDraw(result);
  }

  fail(request, error) {
    this.canvas.hidden = true;
    this.canvas.dataset.imageIndex = String(request.imageIndex);
    this.element.classList.add("failed");
    this.message.textContent = `Image ${request.imageIndex + 1} cannot be shown: ${error.message}`;
    this.corners[2].textContent = `Im: ${request.imageIndex + 1}/${this.displaySet.numImages}`;
    this.onError(error);
  }

  writeOverlay(o) {
    const lines = (...items) => items.filter((item) => item !== "" && item != null).join("\n");
    const number = (value) => (Number.isInteger(value) ? String(value) : value.toFixed(1));
    this.corners[0].textContent = lines(o.patientName, o.patientId, o.studyDate, o.studyDescription);
    this.corners[1].textContent = lines(o.seriesDescription, o.seriesNumber == null ? "" : `Se: ${o.seriesNumber}`, o.modality);
    this.corners[2].textContent = lines(
      `Im: ${o.imageIndex + 1}/${o.numImages}`,
      o.instanceNumber == null ? "" : `Instance: ${o.instanceNumber}`,
    );
    this.corners[3].textContent = lines(
      o.windowWidth == null ? "" : `W: ${number(o.windowWidth)} L: ${number(o.windowCenter)}`,
      `Zoom: ${Math.round(this.scale() * 100)}%`,
    );
  }

  setProgress({ loaded, failed, total }) {
    this.element.dataset.loaded = String(loaded);
    this.element.style.setProperty("--loaded", String((loaded + failed) / total));
  }

  // ---------------------------------------------------------------- view transform

  scale() {
    const { clientWidth, clientHeight } = this.element;
    const { width, height } = this.canvas;
    if (!width || !height || !clientWidth || !clientHeight) return this.zoom;
    return this.zoom * Math.min(clientWidth / width, clientHeight / height);
  }

  layout() {
    const [x, y] = this.pan;
    const [fx, fy] = this.flip;
    this.canvas.style.transform =
      `translate(${x}px, ${y}px) scale(${this.scale()}) rotate(${this.rotation}deg) ` +
      `scale(${fx}, ${fy}) translate(-50%, -50%)`;
    if (this.overlay) this.writeOverlay(this.overlay); // the zoom shown changes too
    this.dispatchEvent(new Event("viewchange")); // measure stand-in
  }

  // ---------------------------------------------------------------- input

  listen() {
    const el = this.element;
    el.addEventListener("contextmenu", (event) => event.preventDefault());
    el.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault();
        this.scroll(Math.sign(event.deltaY) * WHEEL_STEP);
      },
      { passive: false },
    );
    el.addEventListener("keydown", (event) => this.key(event));
    el.addEventListener("pointerdown", (event) => this.drag(event));
    this.resize = new ResizeObserver(() => this.layout());
    this.resize.observe(el);
  }

  key(event) {
    const count = this.displaySet?.numImages ?? 0;
    const actions = {
      ArrowDown: () => this.scroll(1),
      ArrowRight: () => this.scroll(1),
      ArrowUp: () => this.scroll(-1),
      ArrowLeft: () => this.scroll(-1),
      PageDown: () => this.scroll(10),
      PageUp: () => this.scroll(-10),
      Home: () => this.scroll(-count),
      End: () => this.scroll(count),
      i: () => ((this.invert = !this.invert), this.render()),
      r: () => ((this.rotation = (this.rotation + 90) % 360), this.layout()),
      h: () => ((this.flip = [-this.flip[0], this.flip[1]]), this.layout()),
      v: () => ((this.flip = [this.flip[0], -this.flip[1]]), this.layout()),
      Escape: () => (this.resetView(), this.render()),
    };
    const action = actions[event.key];
    if (!action || event.ctrlKey || event.metaKey || event.altKey) return;
    event.preventDefault();
    action();
  }

  // Left: window/level (right = wider, down = higher level). Right: zoom (up = in).
  // Middle: pan.
  drag(event) {
    if (!this.displaySet) return;
    event.preventDefault();
    this.element.focus();
    const tool = event.button === 0 && Viewport.toolHandlers[this.primaryTool]; // measure stand-in
    if (tool) return tool.pointerdown(this, event); // measure stand-in
    const button = event.button;
    const start = { x: event.clientX, y: event.clientY };
    const window = this.window ?? this.drawnWindow;
    const zoom = this.zoom;
    const pan = [...this.pan];
    const move = (e) => {
      const dx = e.clientX - start.x;
      const dy = e.clientY - start.y;
      if (button === 0 && window) {
        const step = Math.max(1, window.width / 256);
        this.setWindow({ center: window.center + dy * step, width: window.width + dx * step });
      } else if (button === 2) {
        this.zoom = Math.min(Math.max(zoom * Math.exp(-dy / 150), 0.05), 40);
        this.layout();
      } else if (button === 1) {
        this.pan = [pan[0] + dx, pan[1] + dy];
        this.layout();
      }
    };
    const up = () => {
      this.element.removeEventListener("pointermove", move);
      this.element.removeEventListener("pointerup", up);
      this.element.removeEventListener("pointercancel", up);
    };
    this.element.setPointerCapture(event.pointerId);
    this.element.addEventListener("pointermove", move);
    this.element.addEventListener("pointerup", up);
    this.element.addEventListener("pointercancel", up);
  }

  // ---------------------------------------------------------------- BEGIN measure stand-in
  // The smallest part of the viewport API of the shared contract that the measurement
  // tools need (the `tools` branch builds the full one): events, the annotation layer,
  // image <-> element coordinates, setIndex, the primary tool registry.

  initContractStandIn() {
    this.events = new EventTarget();
    this.primaryTool = "WindowLevel";
    this.annotationLayer = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    this.annotationLayer.setAttribute("class", "annotations");
    this.annotationLayer.style.cssText = "position:absolute;inset:0;width:100%;height:100%;pointer-events:none";
    this.element.append(this.annotationLayer);
  }

  addEventListener(...args) { this.events.addEventListener(...args); }
  removeEventListener(...args) { this.events.removeEventListener(...args); }
  dispatchEvent(event) { return this.events.dispatchEvent(event); }

  imageDetail(result) {
    const { sopInstanceUID, frameNumber } = result.overlay;
    const { displaySetUID } = this.displaySet;
    return { displaySetUID, imageIndex: result.imageIndex, sopInstanceUID, frameNumber };
  }

  setIndex(index) {
    this.scroll(index - this.index);
  }

  setPrimaryTool(name) {
    this.primaryTool = name;
  }

  // The canvas transform of layout(), applied to a point: image pixel centres are at
  // integers, canvas pixel (0, 0) spans [0, 1).
  imageToClient([column, row]) {
    const [a, b, c, d] = this.linearPart();
    const [cx, cy] = this.centre();
    const x = column + 0.5 - this.canvas.width / 2;
    const y = row + 0.5 - this.canvas.height / 2;
    return [cx + a * x + c * y, cy + b * x + d * y];
  }

  clientToImage([x, y]) {
    const [a, b, c, d] = this.linearPart();
    const [cx, cy] = this.centre();
    const u = x - cx;
    const v = y - cy;
    const det = a * d - b * c;
    const x0 = this.canvas.width / 2 - 0.5;
    const y0 = this.canvas.height / 2 - 0.5;
    return [x0 + (d * u - c * v) / det, y0 + (a * v - b * u) / det];
  }

  // Where the canvas centre is: left/top 50% (of the unrounded size) plus the pan.
  centre() {
    const { width, height } = this.element.getBoundingClientRect();
    return [width / 2 + this.pan[0], height / 2 + this.pan[1]];
  }

  // scale(s) rotate(r) scale(fx, fy) as a 2x2 matrix [a, b, c, d] (columns (a, b), (c, d)).
  linearPart() {
    const s = this.scale();
    const r = (this.rotation * Math.PI) / 180;
    const [fx, fy] = this.flip;
    return [s * Math.cos(r) * fx, s * Math.sin(r) * fx, -s * Math.sin(r) * fy, s * Math.cos(r) * fy];
  }
  // ---------------------------------------------------------------- END measure stand-in

  destroy() {
    this.resize.disconnect();
    this.displaySet = null;
    this.element.remove();
  }
}

Viewport.toolHandlers = {}; // measure stand-in: name -> { pointerdown(viewport, event) }
