// The viewport grid: rows x columns Viewports (1x1 up to tables.layout's limits), or a
// hanging protocol's custom layout (OHIF's layoutOptions: one {x, y, width, height} box per
// viewport, fractions of the grid, placed absolutely), one of them active, each a drop
// target for a series dragged from the series panel; and the layout picker, a menu of a
// grid of cells as in OHIF, with the MPR protocols under it.
//
// Changing the layout keeps the viewports (and what they show) whose index remains;
// added ones are empty until the viewer fills them. A protocol (OHIF's "mpr" and
// "primaryAxial": one viewport per MPR view) puts the stack viewports aside as they are
// (image, window, zoom, pan, tools) and brings them back when it is left.

import { element } from "./dom.js";
import { describe } from "./hotkeys.js";
import { icon } from "./icons.js";
import { Popup } from "./popup.js";
import { Viewport } from "./viewport.js";

// What a series entry puts in a drag (series_panel.js): its display set UID.
export const DISPLAY_SET_MIME = "application/x-ohifpy-display-set";

// The MPR layouts, by OHIF's hanging protocol ids: which view each viewport shows and the
// CSS grid that places them ("Axial primary": the axial view spans both rows on the left).
export const PROTOCOLS = {
  mpr: {
    label: "MPR",
    title: "MPR: axial, sagittal and coronal side by side",
    views: ["axial", "sagittal", "coronal"],
    rows: "minmax(0, 1fr)",
    columns: "repeat(3, minmax(0, 1fr))",
    areas: null,
  },
  primaryAxial: {
    label: "Axial primary",
    title: "Axial primary: a large axial view, sagittal and coronal stacked beside it",
    views: ["axial", "sagittal", "coronal"],
    rows: "repeat(2, minmax(0, 1fr))",
    columns: "repeat(2, minmax(0, 1fr))",
    areas: ["1 / 1 / 3 / 2", "1 / 2 / 2 / 3", "2 / 2 / 3 / 3"], // grid-area of each viewport
  },
};

export class ViewportGrid {
  // onDraw(viewport, result) / onError(viewport, error): a viewport drew or failed;
  // onActivate(viewport): the active viewport changed; onDrop(viewport, displaySetUID);
  // onCreate(viewport) / onRemove(viewport): a viewport joins / leaves the grid.
  constructor(worker, callbacks = {}) {
    this.worker = worker;
    const none = () => {};
    this.callbacks = { onDraw: none, onError: none, onActivate: none, onDrop: none, onCreate: none, onRemove: none, ...callbacks };
    this.element = element("div", "viewport-grid");
    this.viewports = [];
    this.rows = this.columns = 0;
    this.layoutOptions = null; // a custom layout's boxes, null: rows x columns
    this.activeIndex = 0;
    this.protocol = null; // the protocol shown (a PROTOCOLS key), null: rows x columns
    this.saved = null; // while a protocol is shown: the stack grid put aside
  }

  get active() {
    return this.viewports[this.activeIndex];
  }

  // rows x columns, or with layoutOptions ([{x, y, width, height}], fractions 0..1) one
  // viewport per box (data-layout="custom"); while a protocol is shown, call
  // leaveProtocol() first.
  setLayout(rows, columns, layoutOptions = null) {
    this.rows = rows;
    this.columns = columns;
    this.layoutOptions = layoutOptions?.length ? layoutOptions : null;
    this.element.style.gridTemplateRows = `repeat(${rows}, minmax(0, 1fr))`;
    this.element.style.gridTemplateColumns = `repeat(${columns}, minmax(0, 1fr))`;
    this.element.dataset.layout = this.layoutOptions ? "custom" : `${rows}x${columns}`;
    const size = this.layoutOptions ? this.layoutOptions.length : rows * columns;
    for (const viewport of this.viewports.splice(size)) this.remove(viewport);
    while (this.viewports.length < size) this.viewports.push(this.create());
    this.place();
    this.setActive(Math.min(this.activeIndex, size - 1));
  }

  place() {
    this.element.replaceChildren(...this.viewports.map((v) => v.element));
    const boxes = this.protocol ? null : this.layoutOptions;
    this.element.classList.toggle("custom-layout", Boolean(boxes));
    this.viewports.forEach((viewport, index) => {
      viewport.element.dataset.viewportIndex = String(index);
      viewport.element.style.gridArea = this.protocol ? (PROTOCOLS[this.protocol].areas?.[index] ?? "") : "";
      placeBox(viewport.element, boxes?.[index]);
    });
  }

  // Put a new, empty viewport in place of `viewport` (what a hanging leaves empty).
  empty(viewport) {
    const index = this.viewports.indexOf(viewport);
    if (index < 0 || !viewport.displaySet) return;
    this.remove(viewport);
    this.viewports[index] = this.create();
    this.place();
    this.setActive(this.activeIndex);
  }

  // Show a protocol: the first time, the stack viewports are put aside and one new
  // viewport made per view (returned, in the protocol's view order); from another
  // protocol the same viewports are only placed anew.
  setProtocol(id) {
    const protocol = PROTOCOLS[id];
    if (!this.protocol) {
      const { viewports, rows, columns, layoutOptions, activeIndex } = this;
      this.saved = { viewports, rows, columns, layoutOptions, activeIndex };
      this.viewports = protocol.views.map(() => this.create());
      this.activeIndex = 0;
    }
    this.protocol = id;
    this.element.style.gridTemplateRows = protocol.rows;
    this.element.style.gridTemplateColumns = protocol.columns;
    this.element.dataset.layout = id;
    this.place();
    this.setActive(Math.min(this.activeIndex, this.viewports.length - 1));
    return this.viewports;
  }

  // Back to the stack grid exactly as it was put aside; the protocol's viewports go.
  leaveProtocol() {
    if (!this.protocol) return;
    for (const viewport of this.viewports) this.remove(viewport);
    const { viewports, rows, columns, layoutOptions, activeIndex } = this.saved;
    this.protocol = null;
    this.saved = null;
    this.viewports = viewports;
    this.activeIndex = activeIndex;
    this.setLayout(rows, columns, layoutOptions);
    this.callbacks.onActivate(this.active);
  }

  create() {
    const viewport = new Viewport(this.worker, {
      onDraw: (result) => this.callbacks.onDraw(viewport, result),
      onError: (error) => this.callbacks.onError(viewport, error),
    });
    const element = viewport.element;
    element.dataset.empty = "true";
    // Clicking, touching or tabbing into a viewport makes it the active one.
    element.addEventListener("pointerdown", () => this.setActive(this.viewports.indexOf(viewport)), true);
    element.addEventListener("focusin", () => this.setActive(this.viewports.indexOf(viewport)));
    element.addEventListener("dragover", (event) => {
      if (!event.dataTransfer.types.includes(DISPLAY_SET_MIME)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      element.classList.add("drop-target");
    });
    element.addEventListener("dragleave", () => element.classList.remove("drop-target"));
    element.addEventListener("drop", (event) => {
      element.classList.remove("drop-target");
      const uid = event.dataTransfer.getData(DISPLAY_SET_MIME);
      if (!uid) return;
      event.preventDefault();
      this.setActive(this.viewports.indexOf(viewport));
      this.callbacks.onDrop(viewport, uid);
    });
    this.callbacks.onCreate(viewport);
    return viewport;
  }

  setActive(index) {
    if (index < 0 || index >= this.viewports.length) return;
    const changed = index !== this.activeIndex || this.active?.element.dataset.active !== "true";
    this.activeIndex = index;
    this.viewports.forEach((viewport, i) => {
      if (i === index) viewport.element.dataset.active = "true";
      else delete viewport.element.dataset.active;
    });
    if (changed) this.callbacks.onActivate(this.active);
  }

  // Move the active viewport by `step`, wrapping around (OHIF's ←/→).
  step(step) {
    const count = this.viewports.length;
    this.setActive((((this.activeIndex + step) % count) + count) % count);
    this.active.element.focus({ preventScroll: true });
  }

  show(viewport, displaySet, index = 0, view = null) {
    delete viewport.element.dataset.empty;
    viewport.setDisplaySet(displaySet, index, { view });
  }

  remove(viewport) {
    this.callbacks.onRemove(viewport);
    viewport.destroy();
  }

  destroy() {
    for (const viewport of [...this.viewports, ...(this.saved?.viewports ?? [])]) this.remove(viewport);
    this.viewports = [];
    this.saved = null;
  }
}

// A custom layout's box on a viewport element (its inline position, a 1px gap around it
// as the grid's), or none: the grid places it.
const GAP_PX = 1;
function placeBox(element, box) {
  const style = element.style;
  if (!box) {
    for (const name of ["left", "top", "width", "height"]) style.removeProperty(name);
    return;
  }
  const percent = (fraction) => `${Number(fraction) * 100}%`;
  style.left = `calc(${percent(box.x)} + ${GAP_PX}px)`;
  style.top = `calc(${percent(box.y)} + ${GAP_PX}px)`;
  style.width = `calc(${percent(box.width)} - ${2 * GAP_PX}px)`;
  style.height = `calc(${percent(box.height)} - ${2 * GAP_PX}px)`;
}

// The layout button (an icon and the layout shown) and its menu of cells up to the largest
// layout (tables.layout: {maxRows, maxColumns}, ohifpy.hanging's limits): hovering or
// focusing a cell highlights the grid it would make, clicking picks it; the arrow keys
// move across the cells. onPick(rows, columns). Under the cells, an entry per protocol
// (PROTOCOLS): onProtocol(id); setProtocolsAvailable() disables them with a reason.
export function createLayoutPicker({ maxRows, maxColumns }, onPick, { onProtocol = () => {} } = {}) {
  const name = element("span", "layout-name");
  const button = element("button", { type: "button", className: "layout-button" }, icon("layout-grid"), name);
  const menu = element("div", "layout-menu");
  menu.setAttribute("role", "menu");
  menu.setAttribute("aria-label", "Layout");
  menu.style.gridTemplateColumns = `repeat(${maxColumns}, auto)`;
  const root = element("div", "layout-picker", button, menu);
  const popup = new Popup(button, menu, { navigate: stepInGrid });
  // A menu's item: it closes the menu, then does `action`.
  const menuItem = (className, label, action, ...children) => {
    const item = element("button", { type: "button", tabIndex: -1, className, title: label }, ...children);
    item.setAttribute("aria-label", label);
    item.addEventListener("click", () => {
      popup.close(true);
      action();
    });
    return item;
  };
  const cells = [];
  for (let row = 1; row <= maxRows; row++) {
    for (let column = 1; column <= maxColumns; column++) {
      const cell = menuItem("layout-cell", `${row}×${column}`, () => onPick(row, column));
      cell.setAttribute("role", "menuitem");
      cell.dataset.rows = String(row);
      cell.dataset.columns = String(column);
      cell.addEventListener("pointerenter", () => highlight(row, column));
      cell.addEventListener("focus", () => highlight(row, column));
      cells.push(cell);
      menu.append(cell);
    }
  }
  const protocols = Object.entries(PROTOCOLS).map(([id, protocol]) => {
    const entry = menuItem("layout-protocol", protocol.label, () => onProtocol(id), protocol.label);
    entry.setAttribute("role", "menuitemcheckbox");
    entry.setAttribute("aria-checked", "false");
    entry.dataset.protocol = id;
    entry.addEventListener("pointerenter", () => highlight(0, 0));
    entry.addEventListener("focus", () => highlight(0, 0));
    menu.append(entry);
    return entry;
  });
  function highlight(rows, columns) {
    for (const cell of cells) {
      cell.classList.toggle("lit", Number(cell.dataset.rows) <= rows && Number(cell.dataset.columns) <= columns);
    }
  }
  // The button names the layout shown; the cells show it lit while the menu is closed.
  function showLayout(text, rows = 0, columns = 0) {
    name.textContent = text;
    describe(button, `Layout ${text}`);
    highlight(rows, columns);
  }
  return {
    element: root,
    // Show the current layout on the button (a custom layout: `custom`, its name).
    setLayout(rows, columns, custom = "") {
      if (custom) showLayout(custom);
      else showLayout(`${rows}×${columns}`, rows, columns);
      for (const entry of protocols) entry.setAttribute("aria-checked", "false");
    },
    setProtocol(id) {
      showLayout(PROTOCOLS[id].label);
      for (const entry of protocols) entry.setAttribute("aria-checked", String(entry.dataset.protocol === id));
    },
    // The protocols need a reconstructable display set: without one they are disabled and
    // say why (`reason`).
    setProtocolsAvailable(available, reason = "") {
      for (const entry of protocols) {
        entry.disabled = !available;
        const { title } = PROTOCOLS[entry.dataset.protocol];
        entry.title = available ? title : `Cannot be shown in MPR: ${reason || "not a volume"}`;
      }
    },
    destroy: () => popup.close(),
  };
}

// The layout menu's arrow keys: across and down the cells (down from the last row: the
// protocols), up and down the protocols; Home and End its ends.
function stepInGrid(items, index, key) {
  const item = items[index];
  const cells = items.filter((node) => node.dataset.rows);
  const protocols = items.filter((node) => !node.dataset.rows);
  const cell = (rows, columns) => cells.find((node) => Number(node.dataset.rows) === rows && Number(node.dataset.columns) === columns);
  if (key === "Home") return items[0];
  if (key === "End") return items.at(-1);
  if (!item?.dataset.rows) {
    const at = protocols.indexOf(item);
    if (key === "ArrowDown") return protocols[at + 1];
    if (key === "ArrowUp") return protocols[at - 1] ?? cells.filter((node) => node.dataset.columns === "1").at(-1);
    return undefined;
  }
  const rows = Number(item.dataset.rows);
  const columns = Number(item.dataset.columns);
  if (key === "ArrowRight") return cell(rows, columns + 1);
  if (key === "ArrowLeft") return cell(rows, columns - 1);
  if (key === "ArrowUp") return cell(rows - 1, columns);
  return cell(rows + 1, columns) ?? protocols[0]; // ArrowDown
}
