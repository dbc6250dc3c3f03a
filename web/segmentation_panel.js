// SEG and RTSTRUCT overlays on the viewer page (ohifpy.viewer.segmentations), as OHIF's
// cornerstone-dicom-seg / cornerstone-dicom-rt extensions and its segmentation panel show
// them.
//
// Opening one (a click or a drop of its series panel entry, through the viewer's show()):
// the worker loads it (loadSegmentation: segments with colours, volumes and statistics,
// its source display set), the source is put in the viewport the entry went to when no
// viewport shows it yet, and the viewports showing the source (stacks and MPR views of it)
// are drawn again: the worker blends a SEG into their pixels. An RTSTRUCT's contours are
// drawn here, as SVG in a layer of each viewport of their own (roiContours, asked again
// on every "imagechange", mapped to the screen again on every "viewchange").
//
// The panel (an aside on the right, its own header toggle) lists each one loaded: its
// title, why it cannot be shown (a source series that is not open), its notes, and per
// segment (ROI) a colour swatch, the label, a visibility checkbox, fill / outline / both,
// an opacity slider, the volume in mL and mean / min / max in the modality's unit, and
// "Go to" (the image through its centre, in the viewport showing its source). Labels and
// every other string from the data go in as textContent only.
//
// The panel item gets data-drawn="true" (and the page the mark ohifpy:segmentation-shown,
// once) when every viewport showing its source has drawn an image asked for after it
// loaded: the benchmark's "overlay on screen".

import { element, svgElement } from "./dom.js";
import { markOnce } from "./marks.js";
import { sourceDisplaySetUID } from "./mpr.js";

export const OVERLAY_KINDS = ["seg", "rtstruct"];
export const SEGMENTATION_SHOWN_MARK = "ohifpy:segmentation-shown";

// Whether a display set is shown over its source images (a SEG or an RTSTRUCT).
export function isOverlay(displaySet) {
  return OVERLAY_KINDS.includes(displaySet?.kind);
}

const POINT_RADIUS = 3; // CSS pixels of an ROI point's circle

function number(value, digits = 1) {
  if (value == null || !Number.isFinite(value)) return "";
  return Number.isInteger(value) ? String(value) : value.toFixed(digits);
}

function rgb([r, g, b]) {
  return `rgb(${r}, ${g}, ${b})`;
}

// "7.25 mL", "mean -748.9 HU (min -887, max 74)": what a segment's statistics read as.
export function statisticsText({ volumeMl, mean, min, max, unit }) {
  const parts = [];
  if (volumeMl != null) parts.push(`${number(volumeMl, 2)} mL`);
  if (mean != null) parts.push(`mean ${number(mean)} ${unit} (min ${number(min)}, max ${number(max)})`);
  return parts.join(" · ");
}

export class SegmentationPanel {
  // grid: the ViewportGrid; showSource(viewport, displaySetUID): put a source display set
  // in a viewport; jumpTo(displaySetUID, imageIndex): show an image (the viewer's, as the
  // measurement panel's "Show"); onOpen(): a segmentation was opened (the page opens the
  // panel).
  constructor(worker, grid, { showSource, jumpTo, onOpen = () => {} }) {
    Object.assign(this, { worker, grid, showSource, jumpTo, onOpen });
    this.loaded = new Map(); // displaySetUID -> { answer, item, styles }
    this.waiting = new Map(); // displaySetUID -> { viewports: Map(viewport -> draws still to come) }
    this.layers = new Map(); // viewport -> { layer, answer, asked, busy, again, detach }
    this.element = element("aside", "segmentation-panel");
    this.element.setAttribute("aria-label", "Segmentations");
    this.list = element("div", "segmentation-list");
    this.message = element("p", "segmentation-message");
    this.message.setAttribute("role", "status");
    this.empty = element("p", "note", "No segmentation: open a SEG or RTSTRUCT series from the series panel.");
    this.element.append(element("h2", "", "Segmentations"), this.empty, this.list, this.message);
    this.observer = new MutationObserver(() => this.refreshLayers());
    this.observer.observe(grid.element, { childList: true });
  }

  say(text, failed = false) {
    this.message.textContent = text;
    this.message.classList.toggle("error", failed);
  }

  // ---------------------------------------------------------------- opening

  // Show a SEG or RTSTRUCT display set over its source, from `viewport` (where its entry
  // was clicked or dropped).
  async open(displaySet, viewport = this.grid.active) {
    const uid = displaySet.displaySetUID;
    this.say("");
    this.onOpen();
    let answer;
    try {
      answer = await this.worker.call("loadSegmentation", { displaySetUID: uid });
    } catch (error) {
      this.say(`${displaySet.seriesDescription || displaySet.modality}: ${error.message}`, true);
      return null;
    }
    if (!this.element.isConnected && !this.grid.element.isConnected) return null; // the page was left
    const source = answer.sourceDisplaySetUID;
    let fresh = null; // a viewport that shows the source only now: its first image has the overlay
    if (source && !this.grid.viewports.some((v) => sourceDisplaySetUID(v) === source)) {
      fresh = viewport ?? this.grid.active;
      this.showSource(fresh, source);
    }
    this.add(answer);
    this.redraw(answer, true, fresh);
    return answer;
  }

  // The panel's entry for a loaded segmentation (replacing an older one of it).
  add(answer) {
    const old = this.loaded.get(answer.displaySetUID);
    const entry = { answer, item: this.item(answer) };
    if (old) old.item.replaceWith(entry.item);
    else this.list.append(entry.item);
    this.loaded.set(answer.displaySetUID, entry);
    this.empty.hidden = true;
  }

  async remove(uid) {
    const entry = this.loaded.get(uid);
    if (!entry) return;
    this.loaded.delete(uid);
    this.waiting.delete(uid);
    entry.item.remove();
    this.empty.hidden = this.loaded.size > 0;
    try {
      await this.worker.call("removeSegmentation", { displaySetUID: uid });
    } catch (error) {
      this.say(error.message, true);
    }
    this.redraw(entry.answer, false);
  }

  // Draw again what shows the segmentation's source: the viewports' images (a SEG is in
  // their pixels) and the contour layers (an RTSTRUCT's). `opened`: it was just loaded,
  // so its item says when every such viewport has drawn it.
  redraw(answer, opened = false, fresh = null) {
    const source = answer.sourceDisplaySetUID;
    const viewports = this.grid.viewports.filter((v) => v.displaySet && source && sourceDisplaySetUID(v) === source);
    const again = viewports.filter((v) => v !== fresh);
    if (answer.kind === "rtstruct") {
      this.refreshLayers();
      for (const viewport of this.grid.viewports) this.requestContours(viewport);
    }
    if (opened) {
      // A render in flight was asked for before: the one after it is the first with the SEG.
      const draws = (v) => (answer.kind !== "seg" ? 0 : v === fresh ? 1 : v.busy ? 2 : 1);
      this.waiting.set(answer.displaySetUID, { viewports: new Map(viewports.map((v) => [v, draws(v)])) });
    }
    if (answer.kind === "seg") for (const viewport of again) viewport.render();
    if (opened) this.settle(answer.displaySetUID);
  }

  // The viewer's onDraw: a viewport drew an image (see the header: data-drawn).
  drawn(viewport) {
    for (const [uid, waiting] of this.waiting) {
      const left = waiting.viewports.get(viewport);
      if (left) waiting.viewports.set(viewport, left - 1);
      this.settle(uid);
    }
  }

  settle(uid) {
    const waiting = this.waiting.get(uid);
    if (!waiting || [...waiting.viewports.values()].some((left) => left > 0)) return;
    this.waiting.delete(uid);
    const entry = this.loaded.get(uid);
    if (!entry) return;
    entry.item.dataset.drawn = "true";
    markOnce(SEGMENTATION_SHOWN_MARK);
  }

  // ---------------------------------------------------------------- the panel

  item(answer) {
    const { kind, displaySetUID } = answer;
    const rows = kind === "seg" ? answer.segments : answer.rois;
    const section = element("section", "segmentation");
    section.dataset.displaySetUid = displaySetUID;
    section.dataset.kind = kind;
    const remove = element("button", { type: "button", className: "segmentation-remove", title: "Remove from the viewports" }, "×");
    remove.setAttribute("aria-label", "Remove");
    remove.addEventListener("click", () => this.remove(displaySetUID));
    const header = element(
      "header",
      "segmentation-header",
      element("span", "segmentation-kind", kind === "seg" ? "SEG" : "RTSTRUCT"),
      element("span", "segmentation-title", answer.label || answer.seriesDescription || displaySetUID),
      remove,
    );
    section.append(header);
    if (answer.seriesDescription && answer.seriesDescription !== answer.label) {
      section.append(element("div", "segmentation-series", answer.seriesDescription));
    }
    if (answer.reason) section.append(element("p", "segmentation-reason", `Not shown: ${answer.reason}.`));
    if (answer.notes?.length) {
      const notes = element("ul", "segmentation-notes");
      notes.append(...answer.notes.map((note) => element("li", "", note)));
      section.append(notes);
    }
    const list = element("ol", "segment-list");
    list.append(...rows.map((row) => this.row(answer, row)));
    section.append(list);
    return section;
  }

  row(answer, segment) {
    const uid = answer.displaySetUID;
    const what = answer.kind === "seg" ? "segment" : "ROI";
    const label = segment.label ?? segment.name;
    const item = element("li", "segment-row");
    item.dataset.number = String(segment.number);
    const swatch = element("span", "segment-swatch");
    swatch.style.backgroundColor = rgb(segment.color); // CSSOM: allowed under style-src 'self'
    swatch.title = segment.colorNote || `colour ${segment.color.join(", ")}`;
    const visible = element("input", { type: "checkbox", className: "segment-visible", checked: segment.style.visible });
    visible.setAttribute("aria-label", `Show ${what} ${segment.number}`);
    const name = element("span", "segment-label", label);
    const head = element("label", "segment-head", visible, swatch, element("span", "segment-number", String(segment.number)), name);
    const mode = element("select", "segment-mode");
    mode.setAttribute("aria-label", "Draw as");
    for (const value of answer.modes) {
      const text = value[0].toUpperCase() + value.slice(1); // "fill" -> "Fill"
      mode.append(element("option", { value, selected: value === segment.style.mode }, text));
    }
    const opacity = element("input", { type: "range", className: "segment-opacity", min: "0", max: "1", step: "0.05" });
    opacity.value = String(segment.style.opacity);
    opacity.setAttribute("aria-label", "Opacity");
    const controls = element("div", "segment-controls", mode, opacity);
    const change = (style) => this.setStyle(uid, segment.number, style);
    visible.addEventListener("change", () => change({ visible: visible.checked }));
    mode.addEventListener("change", () => change({ mode: mode.value }));
    opacity.addEventListener("input", () => change({ opacity: Number(opacity.value) }));
    item.append(head, controls);
    const stats = statisticsText(segment);
    if (stats) item.append(element("div", "segment-stats", stats));
    for (const note of [segment.colorNote, ...(segment.notes ?? [])].filter(Boolean)) item.append(element("div", "segment-note", note));
    const goTo = element("button", { type: "button", className: "segment-goto", disabled: !segment.goTo }, "Go to");
    goTo.title = segment.goTo ? `Image ${segment.goTo.imageIndex + 1}, through its centre` : "Not on an open image";
    goTo.addEventListener("click", () => segment.goTo && this.jumpTo(segment.goTo.displaySetUID, segment.goTo.imageIndex));
    controls.append(goTo);
    return item;
  }

  // Styles go to the worker in order; each answer draws the source's viewports again.
  async setStyle(uid, segmentNumber, style) {
    const entry = this.loaded.get(uid);
    if (!entry) return;
    try {
      await this.worker.call("setSegmentation", { displaySetUID: uid, segments: { [segmentNumber]: style } });
    } catch (error) {
      this.say(error.message, true);
      return;
    }
    if (this.loaded.get(uid) === entry) this.redraw(entry.answer);
  }

  // ---------------------------------------------------------------- RTSTRUCT contours

  get structureSets() {
    return [...this.loaded.values()].filter((e) => e.answer.kind === "rtstruct" && e.answer.sourceDisplaySetUID);
  }

  // A contour layer on every viewport while a structure set is loaded; none otherwise.
  refreshLayers() {
    const wanted = this.structureSets.length ? new Set(this.grid.viewports) : new Set();
    for (const [viewport, entry] of this.layers) {
      if (!wanted.has(viewport)) {
        entry.detach();
        this.layers.delete(viewport);
      }
    }
    for (const viewport of wanted) {
      if (!this.layers.has(viewport)) {
        this.attach(viewport);
        this.requestContours(viewport);
      }
    }
  }

  attach(viewport) {
    const { layer, detach } = viewport.followingLayer("roi-contours", {
      onImage: () => this.requestContours(viewport),
      onView: () => this.drawContours(viewport),
    });
    this.layers.set(viewport, { layer, answer: null, busy: false, again: false, detach });
  }

  // One request in flight per viewport, always for the image it shows by then.
  async requestContours(viewport) {
    const entry = this.layers.get(viewport);
    if (!entry) return;
    if (entry.busy) {
      entry.again = true;
      return;
    }
    entry.busy = true;
    try {
      do {
        entry.again = false;
        const displaySet = viewport.displaySet;
        const index = Number(viewport.canvas.dataset.imageIndex);
        if (!displaySet || viewport.document || !Number.isInteger(index) || !this.structureSets.length) {
          entry.answer = null;
        } else {
          try {
            const answer = await this.worker.call("roiContours", { displaySetUID: displaySet.displaySetUID, imageIndex: index });
            entry.answer = answer;
          } catch {
            entry.answer = null; // a hint: nothing drawn rather than an error
          }
        }
        if (this.layers.get(viewport) === entry) this.drawContours(viewport);
      } while (entry.again && this.layers.get(viewport) === entry);
    } finally {
      entry.busy = false;
    }
  }

  drawContours(viewport) {
    const entry = this.layers.get(viewport);
    if (!entry) return;
    const { layer, answer } = entry;
    const showing = answer && viewport.canvas.width && !viewport.canvas.hidden &&
      answer.displaySetUID === viewport.displaySet?.displaySetUID &&
      String(answer.imageIndex) === viewport.canvas.dataset.imageIndex;
    layer.replaceChildren();
    if (!showing) return;
    const screen = (flat) => {
      const out = [];
      for (let i = 0; i + 1 < flat.length; i += 2) out.push(viewport.imageToClient([flat[i], flat[i + 1]]));
      return out;
    };
    const text = (points) => points.map(([x, y]) => `${x},${y}`).join(" ");
    for (const roi of answer.rois) {
      const group = svgElement("g", { class: "roi" });
      group.dataset.roi = String(roi.number);
      group.dataset.displaySetUid = roi.displaySetUID;
      const color = rgb(roi.color);
      const fill = roi.mode === "fill" || roi.mode === "both";
      const stroke = roi.mode === "outline" || roi.mode === "both";
      const style = { stroke: stroke ? color : "none", fill: fill ? color : "none", "fill-opacity": roi.opacity };
      for (const polygon of roi.polygons) group.append(svgElement("polygon", { class: "roi-contour", points: text(screen(polygon)), ...style }));
      for (const line of roi.polylines) group.append(svgElement("polyline", { class: "roi-contour open", points: text(screen(line)), stroke: color, fill: "none" }));
      for (const segments of roi.segments) {
        const points = screen(segments);
        const path = [];
        for (let i = 0; i + 1 < points.length; i += 2) path.push(`M${points[i][0]},${points[i][1]}L${points[i + 1][0]},${points[i + 1][1]}`);
        group.append(svgElement("path", { class: "roi-contour cut", d: path.join(""), stroke: color, fill: "none" }));
      }
      for (const [x, y] of screen(roi.points)) group.append(svgElement("circle", { class: "roi-point", cx: x, cy: y, r: POINT_RADIUS, stroke: color, fill: color }));
      layer.append(group);
    }
  }

  destroy() {
    this.observer.disconnect();
    for (const entry of this.layers.values()) entry.detach();
    this.layers.clear();
    this.loaded.clear();
    this.waiting.clear();
    this.element.remove();
  }
}
