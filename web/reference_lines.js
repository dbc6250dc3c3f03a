// Reference lines and scroll synchronisation between the viewports' stacks, as OHIF has
// them from cornerstone3D's ReferenceLinesTool and its image-slice synchroniser.
//
// Reference lines (on by default): the active viewport's image plane is drawn as a line on
// every other viewport showing an image of the same frame of reference. The worker computes
// each line in its target's image points (referenceLines, ohifpy.reference_lines); here it
// is only mapped to the screen, again on every zoom, pan, rotation or flip ("viewchange"),
// and asked again when the active viewport or a target shows another image ("imagechange").
//
// Sync scroll (off by default): a viewport that shows another image takes the viewports of
// its frame of reference that face the same way to their image nearest its image. A change
// sync made is not synced again, so viewports never chase each other. In "relative" mode
// (a hanging protocol comparing studies asks for it: setSync(true, {relative: true})) a
// stack of another frame of reference that faces the same way follows too, to the image
// at the same relative position in its stack (the worker's referenceLines relative=).
//
// Each viewport gets an SVG layer of its own under the measurements' (which redraw their
// whole layer): <svg class="reference-lines"><line class="reference-line"
// data-points="[[c,r],[c,r]]" data-source-display-set-uid data-source-image-index></svg>.
// The grid is followed by observing its DOM: viewports added and removed, data-active.

import { svgElement } from "./dom.js";

export class ReferenceLines {
  constructor(grid, worker, { enabled = true, sync = false, relative = false } = {}) {
    Object.assign(this, { grid, worker, enabled, sync, relative });
    this.attached = new Map(); // viewport -> { layer, line, answer: {displaySetUID, points, source} | null, shown, detach }
    this.syncing = new WeakMap(); // viewport -> the image index sync asked it to show
    this.pending = new Map(); // source viewport -> whether to sync from it too
    this.busy = false;
    this.source = null; // the active viewport lines were last asked for
    const refresh = () => this.refresh();
    this.observers = [new MutationObserver(refresh), new MutationObserver(refresh)];
    this.observers[0].observe(grid.element, { childList: true });
    this.observers[1].observe(grid.element, { attributes: true, attributeFilter: ["data-active"], subtree: true });
    this.refresh();
  }

  // Commands for the toolbar and hotkeys; each has pressed(), the toggle's state.
  commands() {
    const toggle = (action, pressed) => Object.assign(action, { pressed });
    return {
      toggleReferenceLines: toggle(() => this.setEnabled(!this.enabled), () => this.enabled),
      toggleSyncScroll: toggle(() => this.setSync(!this.sync), () => this.sync),
    };
  }

  setEnabled(enabled) {
    this.enabled = Boolean(enabled);
    if (this.enabled) this.request(this.grid.active, false);
    else for (const viewport of this.attached.keys()) this.show(viewport, null);
  }

  // Turning sync on brings the others to the active viewport's image at once; `relative`
  // (when given) sets the mode the toggle keeps.
  setSync(sync, { relative = this.relative } = {}) {
    this.sync = Boolean(sync);
    this.relative = Boolean(relative);
    if (this.sync) this.request(this.grid.active, true);
  }

  destroy() {
    for (const observer of this.observers) observer.disconnect();
    for (const entry of this.attached.values()) entry.detach();
    this.attached.clear();
    this.pending.clear();
  }

  // ---------------------------------------------------------------- the grid

  refresh() {
    const current = new Set(this.grid.viewports);
    for (const [viewport, entry] of this.attached) {
      if (!current.has(viewport)) {
        entry.detach();
        this.attached.delete(viewport);
      }
    }
    for (const viewport of current) if (!this.attached.has(viewport)) this.attach(viewport);
    const active = this.grid.active;
    if (active !== this.source) {
      this.source = active;
      if (active) this.show(active, null); // the active viewport shows no line of its own
      this.request(active, false);
    }
  }

  attach(viewport) {
    const { layer, detach } = viewport.followingLayer("reference-lines", {
      under: true, // a capture draws it too
      onImage: (detail) => this.imageChanged(viewport, detail),
      onView: () => this.draw(viewport),
    });
    const line = svgElement("line", { class: "reference-line" });
    this.attached.set(viewport, { layer, line, answer: null, shown: null, detach });
  }

  // The stack image a viewport has on screen ({displaySetUID, imageIndex}), or null (none
  // yet, or an MPR view: those draw their own crosshairs).
  shownImage(viewport) {
    const shown = this.attached.get(viewport)?.shown;
    const displaySet = viewport.displaySet;
    if (!shown || !displaySet || displaySet.sourceDisplaySetUID || displaySet.displaySetUID.startsWith("mpr:")) return null;
    return shown.displaySetUID === displaySet.displaySetUID ? shown : null;
  }

  imageChanged(viewport, { displaySetUID, imageIndex }) {
    const entry = this.attached.get(viewport);
    if (!entry) return;
    // A series just put into another viewport joins the active one's position instead of
    // moving the others to its first image.
    const joined = entry.shown?.displaySetUID !== displaySetUID && viewport !== this.grid.active;
    entry.shown = { displaySetUID, imageIndex };
    // Sync's doing while its request still stands (the user has not scrolled it since).
    const asked = this.syncing.get(viewport);
    const bySync = asked !== undefined && asked === viewport.index;
    if (asked !== undefined && (asked === imageIndex || asked !== viewport.index)) this.syncing.delete(viewport);
    if (this.sync && !bySync && !joined) this.request(viewport, true);
    // The lines from the active image (or on this one's new image); syncing it if it joined.
    this.request(this.grid.active, this.sync && joined);
  }

  // ---------------------------------------------------------------- asking the worker

  // Requests are coalesced per source viewport, one in flight, each for the latest images.
  request(source, sync) {
    if (!source) return;
    this.pending.set(source, Boolean(this.pending.get(source)) || Boolean(sync));
    if (!this.busy) this.pump();
  }

  async pump() {
    this.busy = true;
    while (this.pending.size && this.grid.element.isConnected) {
      const [source, sync] = this.pending.entries().next().value;
      this.pending.delete(source);
      try {
        await this.ask(source, sync);
      } catch {
        // A line is a hint: a failed answer leaves the viewports as they are.
      }
    }
    this.busy = false;
  }

  async ask(source, sync) {
    const lines = this.enabled && source === this.grid.active;
    if (!lines && !sync) return;
    const from = this.shownImage(source);
    const targets = this.grid.viewports
      .filter((v) => v !== source)
      .map((viewport) => ({ viewport, shown: this.shownImage(viewport) }))
      .filter((t) => t.shown);
    const others = this.grid.viewports.filter((v) => v !== source && !targets.some((t) => t.viewport === v));
    if (lines) for (const viewport of others) this.show(viewport, null);
    if (!from || targets.length === 0) {
      if (lines) for (const { viewport } of targets) this.show(viewport, null);
      return;
    }
    const answer = await this.worker.call("referenceLines", {
      displaySetUID: from.displaySetUID,
      imageIndex: from.imageIndex,
      targets: targets.map((t) => t.shown),
      sync,
      ...(sync && this.relative && { relative: true }),
    });
    // The source shows another image by now: its imagechange has asked again.
    const now = this.shownImage(source);
    if (now?.displaySetUID !== from.displaySetUID || now.imageIndex !== from.imageIndex) return;
    answer.lines.forEach((entry, i) => {
      const { viewport } = targets[i];
      if (lines && this.enabled && source === this.grid.active) {
        this.show(viewport, entry.line && { displaySetUID: entry.displaySetUID, points: entry.line, source: from });
        // Which image's plane this viewport was last answered for, line or none.
        const layer = this.attached.get(viewport)?.layer;
        if (layer) layer.dataset.answeredFor = `${from.displaySetUID}/${from.imageIndex}`;
      }
      if (sync && entry.imageIndex != null && entry.displaySetUID === viewport.displaySet?.displaySetUID && viewport.index !== entry.imageIndex) {
        this.syncing.set(viewport, entry.imageIndex);
        viewport.setIndex(entry.imageIndex);
      }
    });
  }

  // ---------------------------------------------------------------- drawing

  show(viewport, answer) {
    const entry = this.attached.get(viewport);
    if (!entry) return;
    entry.answer = answer;
    this.draw(viewport);
  }

  draw(viewport) {
    const entry = this.attached.get(viewport);
    if (!entry) return;
    const { answer, layer, line } = entry;
    const showing = this.enabled && answer && viewport.canvas.width && !viewport.canvas.hidden &&
      answer.displaySetUID === viewport.displaySet?.displaySetUID;
    if (!showing || viewport === this.grid.active) {
      layer.replaceChildren();
      return;
    }
    const [[x1, y1], [x2, y2]] = answer.points.map((point) => viewport.imageToClient(point));
    for (const [name, value] of Object.entries({ x1, y1, x2, y2 })) line.setAttribute(name, String(value));
    line.dataset.points = JSON.stringify(answer.points);
    line.dataset.sourceDisplaySetUid = answer.source.displaySetUID;
    line.dataset.sourceImageIndex = String(answer.source.imageIndex);
    if (!line.isConnected) layer.append(line);
  }
}
