// A viewport's four overlay corners, laid out as the app config says (renderImage's
// overlay.corners: ohifpy.viewer.overlay_items, OHIF's viewportOverlay customization).
// Each item is one line, its label then its value. An attribute's value is the worker's
// text (a date or time in the config's format: display_format.js); the other kinds are
// the viewport's live state (window/level, zoom, image number, frame rate), filled here
// and refreshed as the view changes without building the corners again.
//
// Compact mode (the "overlayCompact" preference, set in the preferences dialog) shows
// each corner's first item only, in smaller type: the config's order is its priority.
// DICOM strings go in as text only.

import { timeElement } from "./display_format.js";
import { element } from "./dom.js";
import { getPreference, onPreferenceChange } from "./preferences.js";

const CORNER_CLASSES = { topLeft: "top-left", topRight: "top-right", bottomLeft: "bottom-left", bottomRight: "bottom-right" };

const number = (value) => (Number.isInteger(value) ? String(value) : value.toFixed(1));

// Each live kind's label when the config gives none, and its text from the viewport's
// state {imageIndex, numImages, instanceNumber, window, scale, fps} ("": not shown).
const LIVE_ITEMS = {
  windowLevel: ["", ({ window }) => (window ? `W: ${number(window.width)} L: ${number(window.center)}` : "")],
  zoomLevel: ["Zoom:", ({ scale }) => `${Math.round(scale * 100)}%`],
  instanceNumber: ["Im:", ({ imageIndex, numImages, instanceNumber }) =>
    `${imageIndex + 1}/${numImages}${instanceNumber == null ? "" : ` · Instance ${instanceNumber}`}`],
  frameRate: ["", ({ fps }) => (fps ? `${fps} fps` : "")],
};

// The corners without their attributes: what is known of an image that could not be read.
export function liveCorners(corners = {}) {
  return Object.fromEntries(Object.entries(corners).map(([name, items]) => [name, items.filter((item) => item.kind !== "attribute")]));
}

export class ViewportOverlay {
  // host: the viewport's element (it gets the class "overlay-compact" in compact mode).
  constructor(host) {
    this.elements = Object.entries(CORNER_CLASSES).map(([name, className]) => {
      const corner = element("div", `overlay ${className}`);
      corner.dataset.corner = name;
      return corner;
    });
    this.built = ""; // the corners shown (as JSON): built again only when they change
    this.live = []; // the live items: [{ item, value, text(state) }]
    const compact = () => host.classList.toggle("overlay-compact", Boolean(getPreference("overlayCompact")));
    compact();
    this.stopListening = onPreferenceChange((name) => name === "overlayCompact" && compact());
  }

  // corners: the worker's; state: the viewport's, for the live items.
  show(corners = {}, state) {
    const json = JSON.stringify(corners);
    if (json !== this.built) {
      this.built = json;
      this.live = [];
      for (const corner of this.elements) corner.replaceChildren(...(corners[corner.dataset.corner] ?? []).map((item) => this.item(item)));
    }
    for (const { item, value, text } of this.live) {
      const shown = text(state);
      if (value.textContent !== shown) value.textContent = shown;
      item.hidden = !shown;
    }
  }

  item({ id, kind, label = "", title = "", attribute = "", text = "", iso = "" }) {
    const [defaultLabel, liveText] = LIVE_ITEMS[kind] ?? [""];
    const shownLabel = label || defaultLabel;
    const value = element("span", "overlay-value", iso ? timeElement(text, iso) : text);
    const item = element("div", { className: "overlay-item", title }, shownLabel && element("span", "overlay-label", shownLabel), shownLabel && " ", value);
    Object.assign(item.dataset, { itemId: id, kind }, attribute ? { attribute } : {});
    if (liveText) this.live.push({ item, value, text: liveText });
    return item;
  }

  clear() {
    this.built = "";
    this.live = [];
    for (const corner of this.elements) corner.replaceChildren();
  }

  destroy() {
    this.stopListening();
  }
}
