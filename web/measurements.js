// The measurement tools on a viewport: mouse input places image points, the worker's
// `measure` answers with the values, and the annotation layer draws each measurement on
// its own image. Points are kept in image coordinates ([column, row], pixel centres at
// integers) and drawn through viewport.imageToClient on every view or image change, so
// they stay anchored through zoom, pan, rotation, flips and scrolling. No measuring
// here: every number shown is the worker's.

import { element, svgElement as svg } from "./dom.js";
import { Viewport } from "./viewport.js";

// One measurement's values as text lines, "Mean: 40.12 HU", each after its label in
// `labels` (the worker's tables.quantities); a value without a label (pixelCount) is not shown.
export function valueTexts(measurement, labels) {
  return measurement.values
    .filter((q) => Object.hasOwn(labels, q.name))
    .map((q) => {
      const value = q.value == null ? "—" : q.value.toFixed(2);
      return { name: q.name, text: `${labels[q.name]}: ${value}${q.unit === "°" ? "°" : ` ${q.unit}`}` };
    });
}

export function measurementLines(measurement, labels) {
  const lines = valueTexts(measurement, labels).map((v) => v.text);
  const position = measurement.patientPosition;
  if (position) lines.push(`(${position.map((v) => v.toFixed(1)).join(", ")}) mm`);
  if (measurement.text) lines.push(measurement.text);
  return [...lines, ...(measurement.notes ?? [])];
}

// ---------------------------------------------------------------- bidirectional geometry
// As in OHIF: the drag draws the long axis and the short axis is placed across its middle,
// half as long; the short axis then stays perpendicular to the long one, crossing it where
// it did. In image pixels, the space the viewport shows square.

const MIN_ARM = 0.5; // px: a short-axis end cannot be dragged across the long axis

const minus = (a, b) => [a[0] - b[0], a[1] - b[1]];
const dot = (a, b) => a[0] * b[0] + a[1] * b[1];
const along = (origin, direction, t) => [origin[0] + t * direction[0], origin[1] + t * direction[1]];

// The long axis' direction and its unit normal.
function axisFrame(start, end) {
  const direction = minus(end, start);
  const length = Math.hypot(...direction) || 1;
  return { direction, normal: [-direction[1] / length, direction[0] / length] };
}

export function withShortAxis([start, end]) {
  const { direction, normal } = axisFrame(start, end);
  const middle = along(start, direction, 0.5);
  const arm = Math.hypot(...direction) / 4;
  return [start, end, along(middle, normal, -arm), along(middle, normal, arm)];
}

// The points with handle `index` dragged to `target`, the short axis kept perpendicular.
export function dragBidirectional(points, index, target) {
  const [start, end, ...short] = points;
  const { direction, normal } = axisFrame(start, end);
  const crossing = dot(minus(short[0], start), direction) / (dot(direction, direction) || 1);
  const arms = short.map((p) => dot(minus(p, start), normal));
  if (index >= 2) {
    const arm = dot(minus(target, start), normal);
    const old = arms[index - 2];
    arms[index - 2] = arm * old > 0 || old === 0 ? arm : Math.sign(old) * MIN_ARM;
  }
  const axis = index < 2 ? [index === 0 ? target : start, index === 1 ? target : end] : [start, end];
  const frame = axisFrame(...axis);
  const centre = along(axis[0], frame.direction, crossing);
  return [...axis, ...arms.map((arm) => along(centre, frame.normal, arm))];
}

const layers = new WeakMap(); // viewport -> its MeasurementLayer
let arrowheads = 0;

// Make the worker's measurement tools (tables.tools: {name, label, gestures}, see
// ohifpy.measure.Tool) primary-button tools of every viewport: a press goes to that
// viewport's MeasurementLayer, which places the tool's points by its gestures.
export function registerMeasurementTools(tools) {
  for (const { name, gestures } of tools) {
    Viewport.toolHandlers[name] = { pointerdown: (viewport, event) => layers.get(viewport)?.draw(name, gestures, event) };
  }
}

export class MeasurementLayer {
  // quantities: the value labels (tables.quantities) written next to each measurement.
  constructor(viewport, store, worker, { quantities, onError = () => {} }) {
    Object.assign(this, { viewport, store, worker, quantities, onError });
    this.pending = null; // { tool, displaySetUID, imageIndex, points, step } being drawn
    this.editing = null; // { uid, points } while a handle is dragged
    this.arrowhead = `measure-arrowhead-${++arrowheads}`;
    this.render = () => this.paint();
    viewport.addEventListener("viewchange", this.render);
    viewport.addEventListener("imagechange", this.render);
    store.addEventListener("change", this.render);
    this.edit = (event) => this.startEdit(event);
    viewport.annotationLayer.addEventListener("pointerdown", this.edit);
    layers.set(viewport, this);
  }

  destroy() {
    this.viewport.removeEventListener("viewchange", this.render);
    this.viewport.removeEventListener("imagechange", this.render);
    this.store.removeEventListener("change", this.render);
    this.viewport.annotationLayer.removeEventListener("pointerdown", this.edit);
    layers.delete(this.viewport);
  }

  // ---------------------------------------------------------------- input

  imagePoint(event) {
    const box = this.viewport.element.getBoundingClientRect();
    return this.viewport.clientToImage([event.clientX - box.left, event.clientY - box.top]);
  }

  // Follow one pointer gesture on the viewport: move(point), then up().
  follow(event, move, up) {
    const element = this.viewport.element;
    const onMove = (e) => move(this.imagePoint(e));
    const onUp = () => {
      element.removeEventListener("pointermove", onMove);
      element.removeEventListener("pointerup", onUp);
      element.removeEventListener("pointercancel", onUp);
      up();
    };
    element.setPointerCapture(event.pointerId);
    element.addEventListener("pointermove", onMove);
    element.addEventListener("pointerup", onUp);
    element.addEventListener("pointercancel", onUp);
  }

  // A press with a measurement tool: the next of its gestures (2: the press places a point
  // and the drag moves the next one; 1: the drag moves the point pressed; "path": the
  // drag's path is the outline).
  draw(tool, gestures, event) {
    const { displaySet, index } = this.viewport;
    const p = this.pending;
    const continued = p && p.step !== Infinity && p.tool === tool && p.imageIndex === index &&
      p.displaySetUID === displaySet.displaySetUID;
    if (!continued) {
      this.pending = { tool, displaySetUID: displaySet.displaySetUID, imageIndex: index, points: [], step: 0 };
    }
    const pending = this.pending;
    const count = gestures === "path" ? 1 : gestures[pending.step];
    const start = this.imagePoint(event);
    const first = pending.points.length;
    for (let i = 0; i < count; i++) pending.points.push(start);
    this.store.select(null);
    this.follow(
      event,
      (point) => {
        if (gestures === "path") pending.points.push(point);
        else pending.points[pending.points.length - 1] = point;
        this.paint();
      },
      () => {
        const [a, b] = pending.points.slice(first);
        if (count === 2 && a[0] === b[0] && a[1] === b[1]) {
          pending.points.splice(first); // a click, not a drag: this gesture places nothing
          if (first === 0) this.pending = null;
        } else if (gestures === "path" || ++pending.step === gestures.length) {
          this.commit(pending);
        }
        this.paint();
      },
    );
  }

  async commit(pending) {
    pending.step = Infinity; // complete: the next press starts another
    const { tool, displaySetUID, imageIndex } = pending;
    const points = tool === "Bidirectional" ? withShortAxis(pending.points) : pending.points;
    try {
      const text = tool === "ArrowAnnotate" ? await this.askText(points[1]) : "";
      if (text === null) return;
      const measurement = await this.worker.call("measure", { displaySetUID, imageIndex, tool, points, text });
      this.store.add(measurement);
    } catch (error) {
      this.onError(error);
    } finally {
      if (this.pending === pending) this.pending = null;
      this.paint();
    }
  }

  // The arrow's text, typed in a field at its tail: Enter or leaving it keeps it, Escape
  // drops the arrow (null).
  askText(tail) {
    const input = element("input", { className: "arrow-text", placeholder: "Arrow text" });
    input.setAttribute("aria-label", "Arrow text");
    const [x, y] = this.viewport.imageToClient(tail);
    input.style.left = `${x}px`;
    input.style.top = `${y}px`;
    this.viewport.element.append(input);
    input.focus();
    return new Promise((resolve) => {
      const done = (value) => {
        input.onblur = null;
        input.remove();
        resolve(value);
      };
      input.addEventListener("pointerdown", (event) => event.stopPropagation());
      input.addEventListener("keydown", (event) => {
        event.stopPropagation(); // typing is not a viewport hotkey
        if (event.key === "Enter") done(input.value);
        if (event.key === "Escape") done(null);
      });
      input.onblur = () => done(input.value);
    });
  }

  // A press on a drawn measurement: select it; dragging a handle moves that point, dragging
  // the outline moves it all. The values follow the drag (measureLive) and the worker
  // measures it once more where it was dropped, the one change undo sees.
  startEdit(event) {
    const group = event.target.closest?.("g.measurement[data-uid]");
    if (!group || event.button !== 0) return;
    event.stopPropagation(); // not a viewport gesture
    event.preventDefault();
    this.viewport.element.focus();
    const measurement = this.store.get(group.dataset.uid);
    if (!measurement) return;
    this.store.select(measurement.uid);
    const handle = event.target.dataset.index;
    const start = this.imagePoint(event);
    const editing = { uid: measurement.uid, points: measurement.points };
    this.editing = editing;
    this.follow(
      event,
      ([x, y]) => {
        const [dx, dy] = [x - start[0], y - start[1]];
        const moved = (p) => [p[0] + dx, p[1] + dy];
        if (handle === undefined) editing.points = measurement.points.map(moved);
        else if (measurement.tool === "Bidirectional") {
          editing.points = dragBidirectional(measurement.points, Number(handle), moved(measurement.points[handle]));
        } else editing.points = measurement.points.map((p, i) => (Number(handle) === i ? moved(p) : p));
        this.paint();
        this.measureLive(measurement, editing);
      },
      () => this.remeasure(measurement, editing),
    );
  }

  measureArgs(measurement, points) {
    const { displaySetUID, imageIndex, tool, text, label, uid } = measurement;
    return { displaySetUID, imageIndex, tool, points, text, label, uid };
  }

  // One request at a time, always for the latest points; an answer that comes after the
  // release is dropped (remeasure's is the one kept).
  async measureLive(measurement, editing) {
    if (editing.busy) {
      editing.stale = true;
      return;
    }
    editing.busy = true;
    try {
      do {
        editing.stale = false;
        const answer = await this.worker.call("measure", this.measureArgs(measurement, editing.points));
        if (this.editing !== editing) return;
        editing.live = answer;
        this.paint();
      } while (editing.stale);
    } catch {
      // the release measures again and reports the error
    } finally {
      editing.busy = false;
    }
  }

  async remeasure(measurement, editing) {
    try {
      if (editing.points === measurement.points) return;
      this.store.replace(await this.worker.call("measure", this.measureArgs(measurement, editing.points)));
    } catch (error) {
      this.onError(error);
    } finally {
      if (this.editing === editing) this.editing = null;
      this.paint();
    }
  }

  // ---------------------------------------------------------------- drawing

  shown(measurement) {
    const { displaySet, index } = this.viewport;
    return measurement.displaySetUID === displaySet?.displaySetUID && measurement.imageIndex === index;
  }

  paint() {
    const layer = this.viewport.annotationLayer;
    if (!this.viewport.displaySet || !this.viewport.canvas.width) {
      layer.replaceChildren();
      return;
    }
    const drawn = this.store
      .list()
      .filter((m) => this.shown(m))
      .map((m) => (this.editing?.uid === m.uid ? this.edited(m) : m));
    if (this.pending && this.shown(this.pending)) drawn.push({ ...this.pending, uid: "", values: [], pending: true });
    const arrowhead = svg("marker", {
      id: this.arrowhead, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8, markerHeight: 8,
      orient: "auto-start-reverse",
    });
    arrowhead.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }));
    const defs = svg("defs");
    defs.append(arrowhead);
    layer.replaceChildren(defs, ...drawn.map((m) => this.group(m)));
  }

  // A measurement being dragged: its new points, with the latest values measured on the way.
  edited(m) {
    const { points, live } = this.editing;
    return live ? { ...m, ...live, points } : { ...m, points, moving: true };
  }

  group(m) {
    const selected = m.uid && m.uid === this.store.selectedUID;
    const g = svg("g", {
      class: `measurement${selected ? " selected" : ""}${m.pending ? " pending" : ""}`,
      "data-tool": m.tool,
      "data-points": JSON.stringify(m.points),
    });
    if (m.uid) g.dataset.uid = m.uid;
    const client = m.points.map((p) => this.viewport.imageToClient(p));
    for (const shape of this.shapes(m, client)) {
      shape.classList.add("shape");
      const hit = shape.cloneNode();
      hit.setAttribute("class", "hit");
      hit.removeAttribute("marker-end");
      g.append(shape, hit);
    }
    if (m.tool !== "PlanarFreehandROI" || selected) {
      client.forEach(([x, y], i) => g.append(svg("circle", { class: "handle", cx: x, cy: y, r: 4, "data-index": i })));
    }
    if (!m.pending) g.append(this.label(m, client));
    return g;
  }

  // The outline of a measurement in element coordinates. Straight edges map point by
  // point; an ellipse or circle is drawn in image coordinates under the view's affine map.
  shapes(m, client) {
    const line = ([x1, y1], [x2, y2]) => svg("line", { x1, y1, x2, y2 });
    const points = (list) => list.map((p) => p.join(",")).join(" ");
    const [a, b, c, d] = client;
    switch (m.tool) {
      case "Length":
        return [line(a, b)];
      case "Bidirectional":
      case "CobbAngle":
        return c ? [line(a, b), line(c, d)] : [line(a, b)];
      case "Angle":
        return [svg("polyline", { points: points(client) })];
      case "ArrowAnnotate":
        return [svg("line", { x1: b[0], y1: b[1], x2: a[0], y2: a[1], "marker-end": `url(#${this.arrowhead})` })];
      case "RectangleROI": {
        const [[x0, y0], [x1, y1]] = m.points;
        const corners = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]].map((p) => this.viewport.imageToClient(p));
        return [svg("polygon", { points: points(corners) })];
      }
      case "EllipticalROI": {
        const [[x0, y0], [x1, y1]] = m.points;
        const rx = Math.abs(x1 - x0) / 2;
        const ry = Math.abs(y1 - y0) / 2;
        return [this.inImage(svg("ellipse", { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, rx, ry }))];
      }
      case "CircleROI": {
        const [[cx, cy], [ex, ey]] = m.points;
        return [this.inImage(svg("circle", { cx, cy, r: Math.hypot(ex - cx, ey - cy) }))];
      }
      case "PlanarFreehandROI":
        return [svg(m.pending ? "polyline" : "polygon", { points: points(client) })];
      default:
        return []; // Probe: its handle marks it
    }
  }

  inImage(shape) {
    const [ox, oy] = this.viewport.imageToClient([0, 0]);
    const [ax, ay] = this.viewport.imageToClient([1, 0]);
    const [bx, by] = this.viewport.imageToClient([0, 1]);
    shape.setAttribute("transform", `matrix(${ax - ox} ${ay - oy} ${bx - ox} ${by - oy} ${ox} ${oy})`);
    shape.setAttribute("vector-effect", "non-scaling-stroke");
    return shape;
  }

  // The values as the worker answered them, right of the measurement's rightmost point.
  label(m, client) {
    const [x, y] = client.reduce((right, p) => (p[0] > right[0] ? p : right));
    const text = svg("text", { class: "measurement-text", x: x + 10, y: y + 4 });
    for (const [i, line] of (m.moving ? [] : measurementLines(m, this.quantities)).entries()) {
      const span = svg("tspan", { x: x + 10, dy: i === 0 ? 0 : "1.2em" });
      span.textContent = line;
      text.append(span);
    }
    return text;
  }
}

// Delete/Backspace removes the selected measurement; ctrl+z undoes, ctrl+y (or
// ctrl+shift+z) redoes. Keys typed into a field are the field's. Returns the uninstaller.
export function installMeasurementKeys(store, target = document) {
  const listener = (event) => {
    if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
    const ctrl = event.ctrlKey || event.metaKey;
    const key = event.key.toLowerCase();
    if ((event.key === "Delete" || event.key === "Backspace") && store.selectedUID) store.remove(store.selectedUID);
    else if (ctrl && key === "z" && !event.shiftKey) store.undo();
    else if (ctrl && (key === "y" || (key === "z" && event.shiftKey))) store.redo();
    else return;
    event.preventDefault();
  };
  target.addEventListener("keydown", listener);
  return () => target.removeEventListener("keydown", listener);
}
