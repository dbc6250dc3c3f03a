// One viewport: a canvas holding the image at its own size (1 canvas pixel = 1 image
// pixel, painted from the worker's RGBA), the overlays (the corners the config lays out:
// viewport_overlay.js; orientation markers, scale bar), an SVG layer for annotations, a
// stack slider, and the tools.
//
// Zoom, pan, rotation and flips are a CSS transform of that canvas: the main thread
// changes them without asking the worker. An image pixel may be taller than wide (the
// render answer's `aspect`: row spacing / column spacing, as in an MPR view's exact
// array slice); the transform then stretches the canvas so the patient is shown to
// scale. Window/level and inversion change the pixels, so they ask the worker to
// re-render from its cached decoded frame; requests are coalesced, at most one in
// flight, always for the latest state.
//
// Events (an EventTarget): "viewchange" (zoom/pan/rotation/flip/size), "imagechange"
// (detail: {displaySetUID, imageIndex, sopInstanceUID, frameNumber}), "indexchange"
// (detail: {imageIndex}: the image asked for changed, before it is drawn) and
// "windowchange" (detail: {window}: a window was set). Changes a toolbar shows (tool,
// cine, presets, overlays) also bubble from the element as a DOM "viewportstatechange"
// event, so one listener serves every viewport of a page.
//
// A display set that is no image stack (an SR, a PDF, a video: isDocument) is shown by a
// DocumentView (document_viewport.js) in place of the canvas, as `document`: the image
// tools do nothing then, the previous / next image keys and cine go to the view.

import { DocumentView, isDocument } from "./document_viewport.js";
import { element, SVG_NS, svgElement } from "./dom.js";
import { getPreference } from "./preferences.js";
import { liveCorners, ViewportOverlay } from "./viewport_overlay.js";

// The built-in tools (camera and stack, no worker involved) and their labels; the
// measurement tools join them through Viewport.toolHandlers.
export const TOOLS = { WindowLevel: "Window/level", Zoom: "Zoom", Pan: "Pan", StackScroll: "Stack scroll" };
const builtIn = (tool) => Object.hasOwn(TOOLS, tool);
export const MOUSE_BUTTONS = ["left", "middle", "right"]; // by PointerEvent.button
export const DEFAULT_TOOL_BINDINGS = { left: "WindowLevel", middle: "Pan", right: "Zoom" };
const ZOOM_LIMITS = [0.05, 40];
const DEFAULT_FPS = 24; // cine rate when the header gives none
const SVG_STYLES = ["fill", "fill-opacity", "stroke", "stroke-width", "stroke-dasharray", "stroke-opacity", "opacity",
  "font-family", "font-size", "font-weight", "text-anchor", "dominant-baseline", "paint-order", "visibility", "display"];
const SCALE_BAR_STEPS = [1, 2, 5]; // bar lengths: these times a power of ten, in mm
const EDGES = { "1,0": "right", "-1,0": "left", "0,1": "bottom", "0,-1": "top" };
const IMAGE_EDGE_DIRECTIONS = { right: [1, 0], left: [-1, 0], bottom: [0, 1], top: [0, -1] };

// The mouse button -> tool map: the defaults with the saved preference on top.
export function toolBindings() {
  return { ...DEFAULT_TOOL_BINDINGS, ...(getPreference("toolBindings") ?? {}) };
}

const clamp = (value, low, high) => Math.min(Math.max(value, low), high);

export class Viewport extends EventTarget {
  // name -> { pointerdown(viewport, event) }: primary-button tools other than the built-ins.
  static toolHandlers = {};

  constructor(worker, { onDraw = () => {}, onError = () => {} } = {}) {
    super();
    this.worker = worker;
    this.onDraw = onDraw;
    this.onError = onError;
    this.element = element("div", "viewport");
    this.element.tabIndex = 0;
    // Named for screen readers by what it shows (setDisplaySet).
    this.element.setAttribute("role", "group");
    this.element.setAttribute("aria-roledescription", "viewport");
    this.element.setAttribute("aria-label", "Empty");
    this.canvas = element("canvas", { width: 0, height: 0 });
    this.context = this.canvas.getContext("2d", { alpha: false });
    this.annotationLayer = svgElement("svg", { class: "annotations" });
    this.corners = new ViewportOverlay(this.element);
    this.markers = Object.fromEntries(
      ["top", "right", "bottom", "left"].map((edge) => {
        const marker = element("div", `overlay orientation-marker ${edge}`);
        marker.dataset.edge = edge;
        return [edge, marker];
      }),
    );
    this.scaleBar = element("div", "overlay scale-bar");
    this.scaleBar.hidden = true;
    this.slider = this.createSlider();
    this.message = element("div", "viewport-message");
    this.element.append(
      this.canvas,
      this.annotationLayer,
      ...this.corners.elements,
      ...Object.values(this.markers),
      this.scaleBar,
      this.slider,
      this.message,
    );
    this.displaySet = null;
    this.document = null; // the DocumentView shown instead of the canvas, if any
    this.imageLinks = null; // the viewer's {find, open} for a document's image references
    this.index = 0;
    this.aspect = 1; // height of an image pixel relative to its width (the drawn image's)
    this.layers = [this.annotationLayer]; // the SVG layers a capture draws, bottom first
    this.busy = false;
    this.dirty = false;
    this.overlay = null;
    this.frameRate = null; // the image header's cine rate, if any
    this.presets = [];
    this.primaryTool = null; // null: the left button's binding
    // fpsChosen: the user set the rate, so the header's rate no longer replaces it
    this.cine = { playing: false, fps: DEFAULT_FPS, fpsChosen: false, loop: true, timer: 0, due: 0 };
    this.touches = new Map(); // pointerId -> [x, y] of the fingers down
    this.gesture = null; // the touch gesture running: { move() }
    this.resetView();
    this.listen();
  }

  createSlider() {
    const slider = element("input", "stack-slider");
    slider.type = "range";
    slider.min = "0";
    slider.step = "1";
    slider.value = "0";
    slider.setAttribute("aria-label", "Image in stack");
    slider.addEventListener("input", () => this.setIndex(Number(slider.value)));
    return slider;
  }

  // ---------------------------------------------------------------- state

  resetView() {
    this.window = null; // null: each image's own default window
    this.invert = false;
    this.zoom = 1; // relative to the size that fits the viewport
    this.pan = [0, 0]; // CSS pixels of the image centre from the viewport centre
    this.rotation = 0; // degrees clockwise, a multiple of 90
    this.flip = [1, 1]; // -1: mirrored along the image's x / y axis (before rotation)
    this.layout();
  }

  // keepView: the same scene seen anew (an MPR plane turned): zoom, pan, rotation, flips,
  // window and inversion stay. view: how a hanging protocol first shows it (startView).
  setDisplaySet(displaySet, index = 0, { keepView = false, view = null } = {}) {
    this.stopCine();
    Object.assign(this.cine, { fps: DEFAULT_FPS, fpsChosen: false });
    this.closeDocument();
    this.displaySet = displaySet;
    const { modality = "", seriesDescription = "" } = displaySet;
    this.element.setAttribute("aria-label", [modality, seriesDescription].filter(Boolean).join(" ") || "Series");
    if (isDocument(displaySet)) return this.showDocument(displaySet);
    this.index = clamp(index, 0, displaySet.numImages - 1);
    this.canvas.dataset.seriesUid = displaySet.seriesInstanceUID;
    this.canvas.dataset.displaySetUid = displaySet.displaySetUID;
    this.slider.max = String(displaySet.numImages - 1);
    this.slider.hidden = displaySet.numImages < 2;
    this.showIndex();
    if (keepView) this.layout();
    else this.resetView();
    if (view) this.startView(view);
    this.render();
    this.announce();
  }

  // A hanging protocol's first view of a display set (its voi, voiInverted, flipHorizontal
  // and rotation options), set before the first image is drawn.
  startView({ window = null, invert = false, flipHorizontal = false, rotation = 0 }) {
    this.window = window && { center: window.center, width: Math.max(1, window.width) };
    this.invert = Boolean(invert);
    this.rotation = rotation;
    if (flipHorizontal) this.flip[0] = -1;
    this.layout();
  }

  // A document in place of the canvas: no image, no overlay, no window, nothing to scroll.
  showDocument(displaySet) {
    this.index = 0;
    this.canvas.hidden = true;
    this.canvas.width = this.canvas.height = 0; // measurements and lines draw on nothing
    this.canvas.dataset.seriesUid = displaySet.seriesInstanceUID;
    this.canvas.dataset.displaySetUid = displaySet.displaySetUID;
    for (const key of ["imageIndex", "sopInstanceUid", "frameNumber", "windowCenter", "windowWidth"]) delete this.canvas.dataset[key];
    Object.assign(this, { drawnImage: null, drawnWindow: null, overlay: null, presets: [] });
    this.corners.clear();
    for (const marker of Object.values(this.markers)) marker.textContent = "";
    this.scaleBar.hidden = true;
    this.slider.hidden = true;
    this.element.classList.remove("failed");
    this.message.textContent = "";
    this.element.classList.add("showing-document");
    this.element.dataset.kind = displaySet.kind;
    this.document = new DocumentView(this, displaySet);
    this.element.append(this.document.element);
    this.resetView();
    this.announce();
  }

  closeDocument() {
    if (!this.document) return;
    this.document.destroy();
    this.document = null;
    this.element.classList.remove("showing-document");
    delete this.element.dataset.kind;
  }

  // The slider follows the index asked for (not the last drawn), so a drag does not jitter.
  showIndex() {
    const count = this.displaySet.numImages;
    this.slider.value = String(this.index);
    this.slider.setAttribute("aria-valuetext", `Image ${this.index + 1} of ${count}`);
    this.slider.title = `${this.index + 1}/${count}`;
  }

  setIndex(index) {
    if (!this.displaySet || this.document) return;
    const next = clamp(Math.round(index), 0, this.displaySet.numImages - 1);
    if (next === this.index) return;
    this.index = next;
    this.showIndex();
    this.render();
    this.dispatchEvent(new CustomEvent("indexchange", { detail: { imageIndex: next } }));
  }

  scroll(delta) {
    if (this.document) this.document.scroll(delta);
    else this.setIndex(this.index + delta);
  }

  setWindow(window) {
    if (this.document) return;
    this.window = { center: window.center, width: Math.max(1, window.width) };
    this.render();
    this.dispatchEvent(new CustomEvent("windowchange", { detail: { window: this.window } }));
  }

  // n counts from 1, as keys 1-5 do.
  applyPreset(n) {
    const preset = this.presets[n - 1];
    if (preset) this.setWindow(preset);
  }

  toggleInvert() {
    if (this.document) return;
    this.invert = !this.invert;
    this.render();
    this.announce();
  }

  zoomBy(factor) {
    const zoom = clamp(this.zoom * factor, ...ZOOM_LIMITS);
    // Keep the point at the viewport centre where it is.
    const ratio = zoom / this.zoom;
    this.pan = this.pan.map((p) => p * ratio);
    this.zoom = zoom;
    this.layout();
  }

  fit() {
    this.zoom = 1;
    this.pan = [0, 0];
    this.layout();
  }

  rotate(degrees) {
    this.rotation = (((this.rotation + degrees) % 360) + 360) % 360;
    this.layout();
  }

  // Mirror the screen left-right: the image axis that is horizontal now.
  flipHorizontal() {
    const axis = this.rotation % 180 === 0 ? 0 : 1;
    this.flip[axis] *= -1;
    this.layout();
  }

  flipVertical() {
    const axis = this.rotation % 180 === 0 ? 1 : 0;
    this.flip[axis] *= -1;
    this.layout();
  }

  reset() {
    this.resetView();
    this.render();
    this.announce();
  }

  toggleOverlays() {
    this.element.classList.toggle("overlays-hidden");
    this.announce();
  }

  get overlaysShown() {
    return !this.element.classList.contains("overlays-hidden");
  }

  setPrimaryTool(name) {
    if (!builtIn(name) && !(name in Viewport.toolHandlers)) throw new Error(`no tool named ${name}`);
    this.primaryTool = name;
    this.element.dataset.primaryTool = name;
    this.announce();
  }

  get activePrimaryTool() {
    return this.primaryTool ?? toolBindings().left;
  }

  // Whether a tool can be used here (a handler may say: available(viewport)).
  toolAvailable(name) {
    if (builtIn(name)) return true;
    const handler = Viewport.toolHandlers[name];
    return Boolean(handler) && (handler.available?.(this) ?? true);
  }

  // An SVG layer of its own above the others (crosshairs, reference lines): a capture
  // draws it too. Its content is the caller's.
  addLayer(className, { under = false } = {}) {
    // `under`: beneath the measurements (and every other layer), else above them all.
    const layer = svgElement("svg", { class: `annotations ${className}` });
    if (under) {
      this.layers[0].before(layer);
      this.layers.unshift(layer);
    } else {
      this.layers[this.layers.length - 1].after(layer);
      this.layers.push(layer);
    }
    return layer;
  }

  removeLayer(layer) {
    layer.remove();
    this.layers = this.layers.filter((l) => l !== layer);
  }

  // A layer (addLayer, hidden from screen readers) that follows the viewport:
  // onImage(detail) when it shows another image, onView() when zoom, pan or rotation
  // change. Its detach() stops both and removes it.
  followingLayer(className, { under = false, onImage, onView }) {
    const layer = this.addLayer(className, { under });
    layer.setAttribute("aria-hidden", "true");
    const image = (event) => onImage(event.detail);
    this.addEventListener("imagechange", image);
    this.addEventListener("viewchange", onView);
    const detach = () => {
      this.removeEventListener("imagechange", image);
      this.removeEventListener("viewchange", onView);
      this.removeLayer(layer);
    };
    return { layer, detach };
  }

  // ---------------------------------------------------------------- cine

  toggleCine() {
    if (this.document) this.document.togglePlay();
    else if (this.cine.playing) this.stopCine();
    else this.playCine();
  }

  playCine() {
    if (!this.displaySet || this.displaySet.numImages < 2 || this.cine.playing) return;
    this.cine.playing = true;
    this.element.dataset.cine = "playing";
    this.cine.due = performance.now() + 1000 / this.cine.fps;
    this.scheduleCineFrame();
    this.writeOverlay(); // the frame rate shown
    this.announce();
  }

  // The next frame is due a frame period after the last one was asked for, and only once
  // that one is drawn (as cornerstone's cine waits for the frame rendered): renders slower
  // than the rate slow the cine down instead of skipping frames. pump() calls this again
  // when it has drawn.
  scheduleCineFrame() {
    clearTimeout(this.cine.timer);
    if (!this.cine.playing || this.busy) return;
    this.cine.timer = setTimeout(() => this.stepCine(), Math.max(0, this.cine.due - performance.now()));
  }

  stepCine() {
    const last = this.displaySet.numImages - 1;
    if (this.index >= last && !this.cine.loop) return this.stopCine();
    this.cine.due = performance.now() + 1000 / this.cine.fps;
    this.setIndex(this.index >= last ? 0 : this.index + 1);
    this.scheduleCineFrame();
  }

  stopCine() {
    clearTimeout(this.cine.timer);
    if (!this.cine.playing) return;
    this.cine.playing = false;
    delete this.element.dataset.cine;
    this.writeOverlay();
    this.announce();
  }

  setCineOptions({ fps = this.cine.fps, loop = this.cine.loop } = {}) {
    const rate = clamp(Number(fps) || DEFAULT_FPS, 1, 120);
    if (rate !== this.cine.fps) Object.assign(this.cine, { fps: rate, fpsChosen: true });
    this.cine.loop = Boolean(loop);
    this.writeOverlay();
    this.announce();
  }

  // ---------------------------------------------------------------- rendering

  render() {
    if (this.document) return;
    this.dirty = true;
    if (!this.busy) this.pump();
  }

  async pump() {
    this.busy = true;
    while (this.dirty && this.displaySet) {
      this.dirty = false;
      const image = `${this.displaySet.displaySetUID}/${this.index}`;
      const request = {
        displaySetUID: this.displaySet.displaySetUID,
        imageIndex: this.index,
        window: this.window,
        invert: this.invert,
        // The image drawn again (window/level, invert): its overlay, presets and cine
        // rate are known, so only its pixels and window come back.
        details: image !== this.drawnImage,
      };
      try {
        const result = await this.worker.call("renderImage", request);
        if (request.displaySetUID === this.displaySet?.displaySetUID) this.draw(result);
      } catch (error) {
        if (request.displaySetUID === this.displaySet?.displaySetUID) this.fail(request, error);
      }
    }
    this.busy = false;
    this.scheduleCineFrame();
  }

  draw(result) {
    const { width, height, rgba } = result;
    // A redraw without details may leave the aspect out: the image's stays.
    const aspect = result.aspect > 0 ? result.aspect : result.overlay ? 1 : this.aspect;
    if (this.canvas.width !== width || this.canvas.height !== height || this.aspect !== aspect) {
      this.canvas.width = width;
      this.canvas.height = height;
      this.aspect = aspect;
      this.canvas.dataset.aspect = String(aspect);
      this.layout();
    }
    const pixels = new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.byteLength);
    this.context.putImageData(new ImageData(pixels, width, height), 0, 0);
    this.worker.recycle(rgba.buffer); // copied into the canvas: the worker may reuse it
    this.drawnWindow = result.window;
    const data = this.canvas.dataset;
    data.imageIndex = String(result.imageIndex);
    if (result.overlay) {
      data.sopInstanceUid = result.overlay.sopInstanceUID;
      data.frameNumber = String(result.overlay.frameNumber);
    }
    data.windowCenter = result.window ? String(result.window.center) : "";
    data.windowWidth = result.window ? String(result.window.width) : "";
    data.invert = String(this.invert);
    this.canvas.hidden = false;
    this.element.classList.remove("failed");
    this.message.textContent = "";
    if (!result.overlay) {
      // Same image, new window: only the W/L text changes.
      const { center = null, width: windowWidth = null } = result.window ?? {};
      this.overlay = { ...this.overlay, windowCenter: center, windowWidth };
      this.writeOverlay();
      this.onDraw(result);
      return;
    }
    this.drawnImage = `${this.displaySet.displaySetUID}/${result.imageIndex}`;
    let changed = JSON.stringify(result.presets) !== JSON.stringify(this.presets); // for the toolbar
    if (result.frameRate && !this.cine.fpsChosen && Math.round(result.frameRate) !== this.cine.fps) {
      this.cine.fps = Math.round(result.frameRate);
      changed = true;
    }
    this.presets = result.presets ?? [];
    this.frameRate = result.frameRate || null;
    this.overlay = result.overlay;
    this.writeOverlay();
    const { displaySetUID } = this.displaySet;
    const { sopInstanceUID, frameNumber } = result.overlay;
    this.dispatchEvent(
      new CustomEvent("imagechange", { detail: { displaySetUID, imageIndex: result.imageIndex, sopInstanceUID, frameNumber } }),
    );
    if (changed) this.announce();
    this.onDraw(result);
  }

  fail(request, error) {
    this.drawnImage = null;
    this.canvas.hidden = true;
    this.canvas.dataset.imageIndex = String(request.imageIndex);
    this.element.classList.add("failed");
    this.message.textContent = `Image ${request.imageIndex + 1} cannot be shown: ${error.message}`;
    if (this.overlay) {
      // Its number and the view's state; no attribute of another image.
      const { corners } = this.overlay;
      const { numImages } = this.displaySet;
      this.overlay = { ...this.overlay, imageIndex: request.imageIndex, numImages, instanceNumber: null, corners: liveCorners(corners) };
      this.writeOverlay();
    }
    this.onError(error);
  }

  // The corners with the view's state now; the markers and scale bar.
  writeOverlay() {
    const o = this.overlay;
    if (!o) return;
    this.corners.show(o.corners, {
      imageIndex: o.imageIndex,
      numImages: o.numImages,
      instanceNumber: o.instanceNumber,
      window: o.windowWidth == null ? null : { center: o.windowCenter, width: o.windowWidth },
      scale: this.scale(),
      fps: this.cine.playing || this.frameRate ? this.cine.fps : null,
    });
    this.writeMarkers();
    this.writeScaleBar();
  }

  // The image's edge letters (from Python) on the screen edges they face now.
  writeMarkers() {
    const letters = this.overlay?.orientationMarkers;
    for (const [imageEdge, direction] of Object.entries(IMAGE_EDGE_DIRECTIONS)) {
      const screen = this.screenDirection(direction).map(Math.round);
      this.markers[EDGES[screen.join(",")]].textContent = letters ? letters[imageEdge] : "";
    }
  }

  // A bar of a round length in mm, at most a quarter of the viewport wide.
  writeScaleBar() {
    const size = this.overlay?.pixelSizeMm;
    const scale = this.scale();
    if (!size || !scale || !this.element.clientWidth) {
      this.scaleBar.hidden = true;
      return;
    }
    // mm per CSS pixel across the screen: along an image row, or (turned) a column
    const mmPerPixel = this.rotation % 180 === 0 ? size.column / scale : size.row / (scale * this.aspect);
    const longest = (this.element.clientWidth / 4) * mmPerPixel;
    const power = 10 ** Math.floor(Math.log10(longest));
    const mm = Math.max(...SCALE_BAR_STEPS.map((s) => s * power).filter((length) => length <= longest));
    this.scaleBar.hidden = false;
    this.scaleBar.style.width = `${mm / mmPerPixel}px`;
    this.scaleBar.dataset.mm = String(mm);
    this.scaleBar.textContent = mm >= 10 ? `${mm / 10} cm` : `${mm} mm`;
  }

  // A state a toolbar shows changed (tool, cine, invert, overlays, presets).
  announce() {
    this.element.dispatchEvent(new CustomEvent("viewportstatechange", { bubbles: true, detail: { viewport: this } }));
  }

  // ---------------------------------------------------------------- view transform

  // The element's exact size in CSS pixels: clientWidth/clientHeight are rounded, and a
  // grid cell is seldom a whole number of pixels, while the image mapping must be exact.
  size() {
    const { width, height } = this.element.getBoundingClientRect();
    return [width, height];
  }

  // CSS pixels per image pixel across (along a row); down a column it is scale() * aspect.
  scale() {
    const [clientWidth, clientHeight] = this.size();
    const { width } = this.canvas;
    const height = this.canvas.height * this.aspect; // in units of a pixel's width
    if (!width || !height || !clientWidth || !clientHeight) return this.zoom;
    const [across, down] = this.rotation % 180 === 0 ? [width, height] : [height, width];
    return this.zoom * Math.min(clientWidth / across, clientHeight / down);
  }

  // cos and sin of the rotation (a multiple of 90 degrees: exact).
  turn() {
    const quarter = Math.round(this.rotation / 90) % 4;
    return [
      [1, 0, -1, 0][quarter],
      [0, 1, 0, -1][quarter],
    ];
  }

  // An image-space vector (x right, y down; in units of a pixel's width, so a row step is
  // `aspect` long) on the screen: flipped, then rotated.
  screenDirection([x, y]) {
    const [cos, sin] = this.turn();
    const [fx, fy] = [x * this.flip[0], y * this.flip[1]];
    return [fx * cos - fy * sin, fx * sin + fy * cos];
  }

  // Image [column, row] (pixel centres at integers) -> [x, y] from the element's top-left.
  imageToClient([column, row]) {
    const s = this.scale();
    const [x, y] = this.screenDirection([
      column + 0.5 - this.canvas.width / 2,
      (row + 0.5 - this.canvas.height / 2) * this.aspect,
    ]);
    const [width, height] = this.size();
    return [width / 2 + this.pan[0] + s * x, height / 2 + this.pan[1] + s * y];
  }

  // The exact inverse of imageToClient.
  clientToImage([x, y]) {
    const s = this.scale();
    const [cos, sin] = this.turn();
    const [width, height] = this.size();
    const sx = (x - width / 2 - this.pan[0]) / s;
    const sy = (y - height / 2 - this.pan[1]) / s;
    const [fx, fy] = [sx * cos + sy * sin, -sx * sin + sy * cos]; // rotated back
    return [
      fx * this.flip[0] + this.canvas.width / 2 - 0.5,
      (fy * this.flip[1]) / this.aspect + this.canvas.height / 2 - 0.5,
    ];
  }

  layout() {
    const [x, y] = this.pan;
    const [fx, fy] = this.flip;
    this.canvas.style.transform =
      `translate(${x}px, ${y}px) scale(${this.scale()}) rotate(${this.rotation}deg) ` +
      `scale(${fx}, ${fy * this.aspect}) translate(-50%, -50%)`;
    this.canvas.dataset.zoom = String(this.zoom);
    this.canvas.dataset.rotation = String(this.rotation);
    this.canvas.dataset.flip = this.flip.join(",");
    this.writeOverlay(); // the zoom shown, markers and scale bar change too
    this.dispatchEvent(new CustomEvent("viewchange"));
  }

  // ---------------------------------------------------------------- capture

  // The viewport as shown (image, overlays if shown, annotations if asked) as a PNG.
  async capture({ annotations = true } = {}) {
    const { clientWidth: width, clientHeight: height } = this.element;
    const out = element("canvas", { width, height });
    const context = out.getContext("2d");
    context.fillStyle = "#000";
    context.fillRect(0, 0, width, height);
    if (!this.canvas.hidden && this.canvas.width) {
      const s = this.scale();
      context.save();
      context.translate(width / 2 + this.pan[0], height / 2 + this.pan[1]);
      context.scale(s, s);
      context.rotate((this.rotation * Math.PI) / 180);
      context.scale(this.flip[0], this.flip[1] * this.aspect);
      context.drawImage(this.canvas, -this.canvas.width / 2, -this.canvas.height / 2);
      context.restore();
    }
    if (this.overlaysShown) this.drawOverlays(context);
    if (annotations) {
      for (const layer of this.layers) {
        if (layer.childElementCount) await this.drawAnnotations(layer, context, width, height);
      }
    }
    return new Promise((resolve, reject) =>
      out.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the capture could not be encoded"))), "image/png"),
    );
  }

  // Overlay text and the scale bar where the page shows them, with their styles.
  drawOverlays(context) {
    const origin = this.element.getBoundingClientRect();
    for (const node of this.element.querySelectorAll(".overlay")) {
      if (node.hidden) continue;
      const box = node.getBoundingClientRect();
      const style = getComputedStyle(node);
      const left = box.left - origin.left;
      const top = box.top - origin.top;
      if (node === this.scaleBar) {
        context.fillStyle = style.borderBottomColor;
        context.fillRect(left, top + box.height - 2, box.width, 2);
      }
      context.font = style.font;
      context.fillStyle = style.color;
      context.shadowColor = "#000";
      context.shadowBlur = 3;
      context.textBaseline = "top";
      const size = parseFloat(style.fontSize);
      const lineHeight = parseFloat(style.lineHeight) || size * 1.2;
      const right = style.textAlign === "right";
      const center = style.textAlign === "center";
      context.textAlign = right ? "right" : center ? "center" : "left";
      const x = right
        ? left + box.width - parseFloat(style.paddingRight)
        : center
          ? left + box.width / 2
          : left + parseFloat(style.paddingLeft);
      // A corner's lines are its items shown; a marker or the scale bar is one line.
      const lines = node.dataset.corner
        ? [...node.children].filter((item) => getComputedStyle(item).display !== "none").map((item) => item.textContent)
        : [node.textContent];
      lines.forEach((line, i) => {
        context.fillText(line, x, top + parseFloat(style.paddingTop) + i * lineHeight + (lineHeight - size) / 2);
      });
      context.shadowBlur = 0;
    }
  }

  async drawAnnotations(layer, context, width, height) {
    const svg = layer.cloneNode(true);
    // An SVG drawn as an image sees no page stylesheet: carry the computed styles over.
    const originals = [layer, ...layer.querySelectorAll("*")];
    [svg, ...svg.querySelectorAll("*")].forEach((copy, i) => {
      const style = getComputedStyle(originals[i]);
      copy.style.cssText = SVG_STYLES.map((name) => `${name}:${style.getPropertyValue(name)}`).join(";"); // CSSOM: allowed under CSP style-src
    });
    svg.setAttribute("xmlns", SVG_NS);
    svg.setAttribute("width", String(width));
    svg.setAttribute("height", String(height));
    const url = URL.createObjectURL(new Blob([new XMLSerializer().serializeToString(svg)], { type: "image/svg+xml" }));
    try {
      const image = new Image();
      image.src = url;
      await image.decode();
      context.drawImage(image, 0, 0, width, height);
    } finally {
      URL.revokeObjectURL(url);
    }
  }

  // ---------------------------------------------------------------- input

  listen() {
    const el = this.element;
    el.addEventListener("contextmenu", (event) => event.preventDefault());
    el.addEventListener(
      "wheel",
      (event) => {
        if (event.target === this.slider || this.document) return; // they scroll themselves
        event.preventDefault();
        this.scroll(Math.sign(event.deltaY));
      },
      { passive: false },
    );
    el.addEventListener("pointerdown", (event) => this.pointerdown(event));
    this.resize = new ResizeObserver(() => this.layout());
    this.resize.observe(el);
  }

  pointerdown(event) {
    if (this.document) return this.announce(); // the document's own (the toolbar follows the active viewport)
    if (!this.displaySet || event.target === this.slider) return;
    this.element.focus({ preventScroll: true });
    if (event.pointerType === "touch") {
      this.touchdown(event);
      return;
    }
    const tool = event.button === 0 ? this.activePrimaryTool : toolBindings()[MOUSE_BUTTONS[event.button]];
    if (!tool) return;
    event.preventDefault();
    if (!builtIn(tool)) {
      Viewport.toolHandlers[tool]?.pointerdown(this, event);
      return;
    }
    const move = this.toolDrag(tool);
    const start = [event.clientX, event.clientY];
    this.track(event, (e) => move(e.clientX - start[0], e.clientY - start[1]));
  }

  // What dragging a built-in tool by (dx, dy) CSS pixels does, from the state at its start.
  toolDrag(tool) {
    if (tool === "WindowLevel") {
      const window = this.window ?? this.drawnWindow;
      if (!window) return () => {}; // colour: nothing to window
      const step = Math.max(1, window.width / 256);
      // right = wider, down = higher level
      return (dx, dy) => this.setWindow({ center: window.center + dy * step, width: window.width + dx * step });
    }
    if (tool === "Zoom") {
      const zoom = this.zoom;
      return (dx, dy) => this.zoomBy((zoom * Math.exp(-dy / 150)) / this.zoom); // up = in
    }
    if (tool === "Pan") {
      const pan = [...this.pan];
      return (dx, dy) => {
        this.pan = [pan[0] + dx, pan[1] + dy];
        this.layout();
      };
    }
    const index = this.index; // StackScroll: down = next, the stack spread over the height
    const perImage = Math.max(2, this.element.clientHeight / (this.displaySet?.numImages || 1));
    return (dx, dy) => this.setIndex(index + dy / perImage);
  }

  // Follow one pointer until it is released.
  track(event, onMove) {
    const id = event.pointerId;
    const move = (e) => e.pointerId === id && onMove(e);
    const up = (e) => {
      if (e.pointerId !== id) return;
      this.element.removeEventListener("pointermove", move);
      this.element.removeEventListener("pointerup", up);
      this.element.removeEventListener("pointercancel", up);
    };
    this.element.setPointerCapture(id);
    this.element.addEventListener("pointermove", move);
    this.element.addEventListener("pointerup", up);
    this.element.addEventListener("pointercancel", up);
  }

  // Touch: one finger runs the primary tool (or stack scroll for a measurement tool);
  // two fingers pinch to zoom about their midpoint and drag to pan.
  touchdown(event) {
    event.preventDefault();
    const origin = this.element.getBoundingClientRect();
    const at = (e) => [e.clientX - origin.left, e.clientY - origin.top];
    this.touches.set(event.pointerId, at(event));
    if (this.touches.size === 1) {
      const tool = this.activePrimaryTool;
      if (!builtIn(tool) && Viewport.toolHandlers[tool]) {
        Viewport.toolHandlers[tool].pointerdown(this, event);
        this.gesture = null;
      } else {
        const move = this.toolDrag(builtIn(tool) ? tool : "StackScroll");
        const start = at(event);
        this.gesture = { move: () => move(...this.touchPoint(0).map((v, i) => v - start[i])) };
      }
    } else if (this.touches.size === 2) {
      this.gesture = this.pinch();
    } else {
      this.gesture = null;
    }
    const id = event.pointerId;
    this.element.setPointerCapture(id);
    const move = (e) => {
      if (e.pointerId !== id) return;
      this.touches.set(id, at(e));
      this.gesture?.move();
    };
    const up = (e) => {
      if (e.pointerId !== id) return;
      this.touches.delete(id);
      if (this.touches.size < 2 && this.gesture?.pinch) this.gesture = null; // no jump back to one finger
      if (this.touches.size === 0) this.gesture = null;
      this.element.removeEventListener("pointermove", move);
      this.element.removeEventListener("pointerup", up);
      this.element.removeEventListener("pointercancel", up);
    };
    this.element.addEventListener("pointermove", move);
    this.element.addEventListener("pointerup", up);
    this.element.addEventListener("pointercancel", up);
  }

  touchPoint(n) {
    return [...this.touches.values()][n];
  }

  pinch() {
    const centre = () => this.size().map((length) => length / 2);
    const measure = () => {
      const [a, b] = [this.touchPoint(0), this.touchPoint(1)];
      return { mid: [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2], distance: Math.hypot(a[0] - b[0], a[1] - b[1]) || 1 };
    };
    const start = measure();
    const zoom = this.zoom;
    const pan = [...this.pan];
    return {
      pinch: true,
      move: () => {
        const now = measure();
        const next = clamp((zoom * now.distance) / start.distance, ...ZOOM_LIMITS);
        const ratio = next / zoom;
        // The image point under the first midpoint stays under the midpoint now.
        const c = centre();
        this.pan = [0, 1].map((i) => now.mid[i] - c[i] - ratio * (start.mid[i] - c[i] - pan[i]));
        this.zoom = next;
        this.layout();
      },
    };
  }

  destroy() {
    this.stopCine();
    this.closeDocument();
    this.corners.destroy();
    this.resize.disconnect();
    this.displaySet = null;
    this.element.remove();
  }
}
