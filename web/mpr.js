// MPR on the viewer page (issue 13): the worker's reconstruction of a display set
// (openMpr / updateMpr, ohifpy.viewer.mpr) shown in one viewport per view (axial,
// sagittal, coronal) in a protocol layout of the grid ("mpr" or "primaryAxial").
//
// Each MPR viewport shows its view as a stack: its "display set" is the view
// ({displaySetUID, numImages, seriesInstanceUID}) and it renders through renderImage as
// any stack does. The MprState is the worker's; this module sends what the user did
// (crosshair drags, scrolling) as updateMpr actions, one at a time (while one is in
// flight only the latest waits; rotations add up), and applies each answer: a view whose
// displaySetUID changed (its plane turned, its slab changed) is shown anew with its zoom,
// pan and window kept, one whose image changed scrolls there, and the crosshairs redraw.
//
// Also here: window/level synchronised across the three views (a toggle), the slab mode
// and thickness controls, and re-rendering the views while the source series loads.

import { CROSSHAIRS, CrosshairLayer } from "./crosshairs.js";
import { element } from "./dom.js";
import { describe } from "./hotkeys.js";
import { icon } from "./icons.js";

const PROGRESS_RENDER_MS = 300; // the views re-render at most this often while frames arrive
const SLAB_MODES = [["mip", "MIP"], ["minip", "MinIP"], ["mean", "Mean"]];

// The display set a viewport shows as the series panel lists it: an MPR view's source.
export function sourceDisplaySetUID(viewport) {
  const shown = viewport?.displaySet;
  return shown?.sourceDisplaySetUID ?? shown?.displaySetUID;
}

// What loadViewports is asked for a viewport: an MPR view loads its source series (from
// the middle: imageIndex -1).
export function loadRequest(viewport) {
  const { displaySet } = viewport;
  if (displaySet.sourceDisplaySetUID) return { displaySetUID: displaySet.sourceDisplaySetUID, imageIndex: -1 };
  return { displaySetUID: displaySet.displaySetUID, imageIndex: viewport.index };
}

function viewDisplaySet(state, view) {
  return {
    displaySetUID: view.displaySetUID,
    seriesInstanceUID: view.seriesInstanceUID,
    numImages: view.numImages,
    sourceDisplaySetUID: state.displaySetUID,
    mprView: view.name,
  };
}

export class MprSession {
  // grid: the ViewportGrid; onChange(): MPR was entered, left or moved to another display
  // set; onError(error): an action the worker refused.
  constructor(worker, grid, { onChange = () => {}, onError = () => {} } = {}) {
    Object.assign(this, { worker, grid, onChange, onError });
    this.state = null; // the latest MprState
    this.protocol = null; // the grid protocol shown, null: not in MPR
    this.viewports = new Map(); // view name -> viewport
    this.attached = new Map(); // viewport -> {layer, stop()}
    this.syncWindow = true;
    this.syncing = false; // a synchronised window is being applied
    this.applying = false; // an answer is being applied: its index changes are not actions
    this.inflight = false;
    this.pending = null; // the action waiting for the one in flight
    this.renderTimer = 0;
    this.renderDue = false;
    this.toolbar = null; // where the controls go while in MPR
    this.controls = this.createControls();
    this.stopProgress = worker.on("progress", (progress) => {
      if (this.state && progress.displaySetUID === this.state.displaySetUID) this.renderSoon();
    });
  }

  get active() {
    return this.protocol !== null;
  }

  viewState(name) {
    return this.state?.views.find((view) => view.name === name) ?? null;
  }

  // ---------------------------------------------------------------- entering and leaving

  // Show `displaySet` in MPR in protocol `protocol` (a PROTOCOLS id). Already in MPR of
  // the same display set: only the layout changes. The worker refuses a display set it
  // cannot reconstruct (the error is thrown, nothing changes).
  async enter(displaySet, protocol) {
    if (this.active && this.state?.displaySetUID === displaySet.displaySetUID) {
      this.grid.setProtocol(protocol);
      this.protocol = protocol;
      this.onChange();
      return;
    }
    const state = await this.worker.call("openMpr", { displaySetUID: displaySet.displaySetUID });
    const fresh = !this.active;
    this.pending = null;
    this.state = state;
    this.protocol = protocol;
    const viewports = this.grid.setProtocol(protocol);
    state.views.forEach((view, i) => {
      const viewport = viewports[i];
      this.viewports.set(view.name, viewport);
      viewport.element.dataset.mprView = view.name;
      if (!this.attached.has(viewport)) this.attach(viewport, view.name);
      this.applying = true;
      try {
        this.grid.show(viewport, viewDisplaySet(state, view), view.imageIndex);
      } finally {
        this.applying = false;
      }
      if (fresh) viewport.setPrimaryTool(CROSSHAIRS); // as OHIF does when MPR opens
    });
    this.grid.setActive(0);
    this.paint();
    this.refreshControls();
    this.onChange();
  }

  // Back to the stack grid as it was before MPR.
  leave() {
    if (!this.active) return;
    for (const { stop } of this.attached.values()) stop();
    this.attached.clear();
    this.viewports.clear();
    this.state = null;
    this.protocol = null;
    this.pending = null;
    clearTimeout(this.renderTimer);
    this.renderTimer = 0;
    this.grid.leaveProtocol();
    this.grid.active?.announce(); // the toolbar shows the stack's tools again
    this.refreshControls();
    this.onChange();
  }

  attach(viewport, name) {
    const layer = new CrosshairLayer(viewport, this, name);
    const onIndex = (event) => {
      if (!this.applying) this.update({ type: "scroll", view: name, imageIndex: event.detail.imageIndex });
    };
    const onWindow = (event) => this.shareWindow(viewport, event.detail.window);
    viewport.addEventListener("indexchange", onIndex);
    viewport.addEventListener("windowchange", onWindow);
    this.attached.set(viewport, {
      layer,
      stop: () => {
        viewport.removeEventListener("indexchange", onIndex);
        viewport.removeEventListener("windowchange", onWindow);
        layer.destroy();
        delete viewport.element.dataset.mprView;
      },
    });
  }

  // ---------------------------------------------------------------- actions

  // Send an updateMpr action; while one is in flight the latest waits (a rotation is
  // added to the one waiting: from where that one started to where this one ends).
  update(action) {
    if (!this.state) return;
    if (this.inflight) {
      const waiting = this.pending;
      this.pending =
        waiting?.type === "rotate" && action.type === "rotate" && waiting.view === action.view
          ? { ...waiting, to: action.to }
          : action;
      return;
    }
    this.send(action);
  }

  async send(action) {
    this.inflight = true;
    const mprUID = this.state.mprUID;
    try {
      const state = await this.worker.call("updateMpr", { mprUID, action });
      if (this.state?.mprUID === mprUID) this.apply(state);
    } catch (error) {
      if (this.state?.mprUID === mprUID) this.onError(error);
    } finally {
      this.inflight = false;
      const next = this.pending;
      this.pending = null;
      if (next && this.state) this.send(next); // (entering another MPR drops what waited)
    }
  }

  apply(state) {
    this.state = state;
    // A view being scrolled by the user keeps the image it is on: the scroll waiting says
    // where it goes next.
    const scrolling = this.pending?.type === "scroll" ? this.pending.view : null;
    this.applying = true;
    try {
      for (const view of state.views) {
        const viewport = this.viewports.get(view.name);
        if (!viewport?.displaySet) continue;
        if (viewport.displaySet.displaySetUID !== view.displaySetUID) {
          viewport.setDisplaySet(viewDisplaySet(state, view), view.imageIndex, { keepView: true });
        } else if (viewport.index !== view.imageIndex && view.name !== scrolling) {
          viewport.setIndex(view.imageIndex);
        }
      }
    } finally {
      this.applying = false;
    }
    this.paint();
    this.refreshControls();
  }

  paint() {
    for (const { layer } of this.attached.values()) layer.paint();
  }

  // A window set in one view goes to the other two (once: theirs do not come back).
  shareWindow(source, window) {
    if (!this.syncWindow || this.syncing) return;
    this.syncing = true;
    try {
      for (const viewport of this.viewports.values()) {
        if (viewport !== source) viewport.setWindow(window);
      }
    } finally {
      this.syncing = false;
    }
  }

  // The source's frames arriving change the planes: re-render, at most every
  // PROGRESS_RENDER_MS, and once more after the last.
  renderSoon() {
    if (this.renderTimer) {
      this.renderDue = true;
      return;
    }
    for (const viewport of this.viewports.values()) viewport.render();
    this.renderTimer = setTimeout(() => {
      this.renderTimer = 0;
      if (this.renderDue) {
        this.renderDue = false;
        this.renderSoon();
      }
    }, PROGRESS_RENDER_MS);
  }

  // ---------------------------------------------------------------- toolbar controls

  // A toolbar group, in the bar (mountControls) only while in MPR: Sync W/L, the slab
  // mode, the active view's slab thickness, reset.
  createControls() {
    const group = element("div", "toolbar-group mpr-controls");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "MPR");
    const button = (className, iconName, label) => {
      const node = element("button", { type: "button", className }, icon(iconName));
      describe(node, label);
      return node;
    };
    const sync = button("mpr-sync-window", "link-2", "Synchronise window/level across the MPR views");
    sync.setAttribute("aria-pressed", "true");
    sync.addEventListener("click", () => {
      this.syncWindow = !this.syncWindow;
      sync.setAttribute("aria-pressed", String(this.syncWindow));
      const shown = this.grid.active;
      if (this.syncWindow && shown?.window) this.shareWindow(shown, shown.window);
    });
    const mode = element("select", { className: "mpr-slab-mode" });
    describe(mode, "Slab mode");
    mode.append(...SLAB_MODES.map(([value, label]) => element("option", { value }, label)));
    mode.addEventListener("change", () => this.update({ type: "slabMode", mode: mode.value }));
    const thickness = element("input", { type: "number", min: "0", max: "500", step: "1", className: "mpr-slab-thickness" });
    describe(thickness, "Slab thickness (mm)");
    thickness.title = "Slab thickness of the active view's plane (mm; 0: none)";
    thickness.addEventListener("change", () => {
      const line = this.grid.active?.element.dataset.mprView;
      const mm = Math.max(0, Number(thickness.value) || 0);
      if (line) this.update({ type: "slabThickness", line, thickness: mm });
    });
    const reset = button("mpr-reset", "refresh-ccw-dot", "Reset the MPR planes");
    reset.addEventListener("click", () => this.update({ type: "reset" }));
    group.append(sync, mode, element("label", "mpr-slab", thickness, "mm"), reset);
    this.refreshControls = () => {
      this.toolbar?.setContext(this.active ? group : null);
      if (!this.state) return;
      mode.value = this.state.slabMode;
      const view = this.viewState(this.grid.active?.element.dataset.mprView);
      if (view && document.activeElement !== thickness) {
        thickness.value = String(Math.round(view.slabThickness * 10) / 10);
      }
    };
    this.grid.element.addEventListener("focusin", () => this.refreshControls());
    return group;
  }

  // Where the controls go while in MPR: the viewer's toolbar (toolbar.js), as its context.
  mountControls(toolbar) {
    this.toolbar = toolbar;
    this.refreshControls();
  }

  destroy() {
    this.stopProgress();
    clearTimeout(this.renderTimer);
    for (const { stop } of this.attached.values()) stop();
    this.attached.clear();
    this.controls.remove();
  }
}
