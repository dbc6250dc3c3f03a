// The Crosshairs tool of the MPR viewports (OHIF's): in each view, the other two views'
// planes as lines through the centre, in their colours (axial red, sagittal yellow,
// coronal green), with a gap at the centre, rotation handles (circles) and slab handles
// (squares) on each line, and a line's slab edges dashed when it has a thickness.
//
// Drag the centre to move the point every view goes through; drag a line to move that
// plane; drag a circle to turn the other two planes about this view's normal (oblique);
// drag a square to set that plane's slab thickness; press anywhere else to bring the
// centre there. The page does no geometry: the worker's MprState gives every line in
// this view's image coordinates, and each drag becomes an updateMpr action in image
// coordinates of the view it happened in (the MprSession sends them, one at a time).
//
// Hit tests are in screen pixels. For tests, the viewport element carries the centre
// (`data-crosshair-center="x,y"`, CSS pixels from its top-left) and the lines
// (`data-crosshair-lines`: JSON [{view, from: [x, y], to: [x, y]}], edge to edge).

import { svgElement as svg } from "./dom.js";
import { Viewport } from "./viewport.js";

export const CROSSHAIRS = "Crosshairs";
const CENTER_HIT = 12; // px: a press this near the centre drags it
const HANDLE_HIT = 8; // px: ... a handle
const LINE_HIT = 6; // px: ... a line
const GAP = 10; // px: the lines leave the centre free
const ROTATE_AT = 0.6; // rotation handles: this far from the centre to the edge
const SLAB_AT = 0.4; // slab handles: this far
const HANDLE_SIZE = 4; // px: circle radius, half a square's side

const layers = new WeakMap(); // viewport -> its CrosshairLayer

// The primary tool: a press in an MPR viewport goes to its CrosshairLayer.
Viewport.toolHandlers[CROSSHAIRS] = {
  available: (viewport) => layers.has(viewport),
  pointerdown: (viewport, event) => layers.get(viewport)?.pointerdown(event),
};

const plus = (a, b) => [a[0] + b[0], a[1] + b[1]];
const minus = (a, b) => [a[0] - b[0], a[1] - b[1]];
const times = (a, k) => [a[0] * k, a[1] * k];
const dot = (a, b) => a[0] * b[0] + a[1] * b[1];
const distance = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1]);

// The part of the line origin + t * direction inside the box [0, width] x [0, height]:
// [t0, t1], or null when it misses the box.
export function clipLine(origin, direction, width, height) {
  let [t0, t1] = [-Infinity, Infinity];
  for (const [o, d, size] of [[origin[0], direction[0], width], [origin[1], direction[1], height]]) {
    if (Math.abs(d) < 1e-12) {
      if (o < 0 || o > size) return null;
      continue;
    }
    const [a, b] = [(0 - o) / d, (size - o) / d].sort((x, y) => x - y);
    t0 = Math.max(t0, a);
    t1 = Math.min(t1, b);
  }
  return t0 < t1 ? [t0, t1] : null;
}

export class CrosshairLayer {
  // session: the MprSession (viewState(name), update(action)); view: this viewport's view.
  constructor(viewport, session, view) {
    Object.assign(this, { viewport, session, view });
    this.layer = viewport.addLayer("crosshairs");
    this.geometry = null; // what the last paint drew, in CSS pixels, for hit tests
    this.repaint = () => this.paint();
    viewport.addEventListener("viewchange", this.repaint);
    this.hover = (event) => this.setCursor(event);
    viewport.element.addEventListener("pointermove", this.hover);
    layers.set(viewport, this);
  }

  destroy() {
    this.viewport.removeEventListener("viewchange", this.repaint);
    this.viewport.element.removeEventListener("pointermove", this.hover);
    this.viewport.removeLayer(this.layer);
    delete this.viewport.element.dataset.crosshairCenter;
    delete this.viewport.element.dataset.crosshairLines;
    this.viewport.element.style.cursor = "";
    layers.delete(this.viewport);
  }

  // ---------------------------------------------------------------- drawing

  paint() {
    const state = this.session.viewState(this.view);
    const viewport = this.viewport;
    const data = viewport.element.dataset;
    const [width, height] = viewport.size();
    if (!state || !viewport.canvas.width || !width || !height) {
      this.layer.replaceChildren();
      this.geometry = null;
      delete data.crosshairCenter;
      delete data.crosshairLines;
      return;
    }
    const center = viewport.imageToClient(state.crosshair.center);
    const lines = [];
    const shapes = [];
    for (const line of state.crosshair.lines) {
      const a = viewport.imageToClient(line.points[0]);
      const b = viewport.imageToClient(line.points[1]);
      const length = distance(a, b);
      if (!(length > 1e-9)) continue;
      const direction = times(minus(b, a), 1 / length);
      const normal = [-direction[1], direction[0]];
      // The line through the centre's foot on it (the centre is on every plane).
      const origin = plus(a, times(direction, dot(minus(center, a), direction)));
      const at = (t, offset = 0) => plus(plus(origin, times(direction, t)), times(normal, offset));
      const span = clipLine(origin, direction, width, height);
      const offsets = line.slab
        ? line.slab.map((edge) => dot(minus(viewport.imageToClient(edge[0]), origin), normal))
        : [];
      const geometry = { view: line.view, color: line.color, origin, direction, normal, span, rotate: [], slab: [] };
      lines.push(geometry);
      if (!span) continue;
      const [t0, t1] = span;
      const group = svg("g", { class: "crosshair-line", "data-view": line.view, stroke: line.color, fill: "none" });
      for (const [from, to] of [[t0, Math.min(t1, -GAP)], [Math.max(t0, GAP), t1]]) {
        if (from < to) group.append(segment(at(from), at(to), "crosshair-stroke"));
      }
      for (const offset of offsets) {
        const edge = clipLine(at(0, offset), direction, width, height);
        if (edge) {
          group.append(segment(at(edge[0], offset), at(edge[1], offset), "crosshair-slab"));
        }
      }
      // Handles on both sides of the centre, where the line is on screen.
      const inside = ([x, y]) => x >= 0 && x <= width && y >= 0 && y <= height;
      for (const end of [t0, t1].filter((t) => Math.abs(t) > 2 * GAP)) {
        const rotate = at(ROTATE_AT * end);
        if (inside(rotate)) {
          geometry.rotate.push(rotate);
          group.append(svg("circle", { class: "crosshair-rotate", cx: rotate[0], cy: rotate[1], r: HANDLE_SIZE }));
        }
        for (const offset of offsets.length ? offsets : [0]) {
          const slab = at(SLAB_AT * end, offset);
          if (!inside(slab)) continue;
          geometry.slab.push(slab);
          group.append(svg("rect", {
            class: "crosshair-slab-handle",
            x: slab[0] - HANDLE_SIZE, y: slab[1] - HANDLE_SIZE, width: 2 * HANDLE_SIZE, height: 2 * HANDLE_SIZE,
          }));
        }
      }
      shapes.push(group);
    }
    this.geometry = { center, lines };
    this.layer.replaceChildren(...shapes);
    const round = (v) => Math.round(v * 100) / 100;
    data.crosshairCenter = center.map(round).join(",");
    data.crosshairLines = JSON.stringify(
      lines.filter((l) => l.span).map((l) => ({
        view: l.view,
        from: l.origin.map((v, i) => round(v + l.span[0] * l.direction[i])),
        to: l.origin.map((v, i) => round(v + l.span[1] * l.direction[i])),
      })),
    );
  }

  // ---------------------------------------------------------------- input

  local(event) {
    const box = this.viewport.element.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  // What a press at `point` (CSS pixels) takes hold of: {kind: "center" | "rotate" |
  // "slab" | "move" | "jump", line, grip: the point held, which follows the pointer}.
  hitTest(point) {
    const g = this.geometry;
    if (!g) return null;
    if (distance(point, g.center) <= CENTER_HIT) return { kind: "center", grip: g.center };
    for (const kind of ["rotate", "slab"]) {
      for (const line of g.lines) {
        const handle = line[kind].find((h) => distance(point, h) <= HANDLE_HIT);
        if (handle) return { kind, line, grip: handle };
      }
    }
    for (const line of g.lines) {
      if (!line.span) continue;
      const along = dot(minus(point, line.origin), line.direction);
      const across = dot(minus(point, line.origin), line.normal);
      if (Math.abs(across) <= LINE_HIT && along >= line.span[0] && along <= line.span[1]) {
        return { kind: "move", line, grip: plus(line.origin, times(line.direction, along)) };
      }
    }
    return { kind: "jump", grip: point };
  }

  setCursor(event) {
    if (event.buttons || this.viewport.activePrimaryTool !== CROSSHAIRS) return;
    const hit = this.hitTest(this.local(event));
    const cursors = { center: "move", rotate: "grab", slab: "ns-resize", move: "pointer", jump: "crosshair" };
    this.viewport.element.style.cursor = hit ? cursors[hit.kind] : "";
  }

  pointerdown(event) {
    const start = this.local(event);
    const hit = this.hitTest(start);
    if (!hit) return;
    const viewport = this.viewport;
    const view = this.view;
    // The pointer's image point, moved by how far the grip was from where it was pressed.
    const offset = minus(start, hit.grip);
    const imagePoint = (point) => viewport.clientToImage(minus(point, offset));
    let action;
    if (hit.kind === "rotate") {
      let last = viewport.clientToImage(start);
      action = (point) => {
        const to = viewport.clientToImage(point);
        const from = last;
        last = to;
        return { type: "rotate", view, from, to };
      };
    } else if (hit.kind === "move" || hit.kind === "slab") {
      const type = hit.kind;
      action = (point) => ({ type, view, line: hit.line.view, point: imagePoint(point) });
    } else {
      action = (point) => ({ type: "center", view, point: imagePoint(point) });
    }
    if (hit.kind === "jump") this.session.update(action(start));
    const element = viewport.element;
    const id = event.pointerId;
    const move = (e) => {
      if (e.pointerId === id) this.session.update(action(this.local(e)));
    };
    const up = (e) => {
      if (e.pointerId !== id) return;
      element.removeEventListener("pointermove", move);
      element.removeEventListener("pointerup", up);
      element.removeEventListener("pointercancel", up);
      delete element.dataset.crosshairDrag;
    };
    element.dataset.crosshairDrag = hit.kind;
    element.setPointerCapture(id);
    element.addEventListener("pointermove", move);
    element.addEventListener("pointerup", up);
    element.addEventListener("pointercancel", up);
  }
}

function segment([x1, y1], [x2, y2], className) {
  return svg("line", { class: className, x1, y1, x2, y2 });
}
