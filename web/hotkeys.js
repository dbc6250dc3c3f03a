// Keyboard shortcuts: OHIF's default hotkeys, remappable, saved in the "hotkeys"
// preference as {command: key} overrides of the defaults. Keys are named as
// KeyboardEvent.key names them ("z", "ArrowUp", "+"), "Space" for the space bar, with
// "Ctrl+", "Alt+", "Meta+" in front when held (Shift is part of the character typed).

import { getPreference } from "./preferences.js";

export const COMMAND_LABELS = {
  zoomTool: "Zoom tool",
  rotateRight: "Rotate right",
  rotateLeft: "Rotate left",
  flipHorizontal: "Flip horizontally",
  flipVertical: "Flip vertically",
  invert: "Invert",
  cine: "Play / pause cine",
  reset: "Reset view",
  previousImage: "Previous image",
  nextImage: "Next image",
  firstImage: "First image",
  lastImage: "Last image",
  previousSeries: "Previous series",
  nextSeries: "Next series",
  previousViewport: "Previous viewport",
  nextViewport: "Next viewport",
  previousStage: "Previous stage",
  nextStage: "Next stage",
  preset1: "W/L preset 1",
  preset2: "W/L preset 2",
  preset3: "W/L preset 3",
  preset4: "W/L preset 4",
  preset5: "W/L preset 5",
  zoomIn: "Zoom in",
  zoomOut: "Zoom out",
  fit: "Zoom to fit",
  toggleConsole: "Python console",
};

export const DEFAULT_HOTKEYS = {
  zoomTool: "z",
  rotateRight: "r",
  rotateLeft: "l",
  flipHorizontal: "h",
  flipVertical: "v",
  invert: "i",
  cine: "c",
  reset: "Space",
  previousImage: "ArrowUp",
  nextImage: "ArrowDown",
  firstImage: "Home",
  lastImage: "End",
  previousSeries: "PageUp",
  nextSeries: "PageDown",
  previousViewport: "ArrowLeft",
  nextViewport: "ArrowRight",
  previousStage: ",",
  nextStage: ".",
  preset1: "1",
  preset2: "2",
  preset3: "3",
  preset4: "4",
  preset5: "5",
  zoomIn: "+",
  zoomOut: "-",
  fit: "=",
  toggleConsole: "p",
};

const MODIFIER_KEYS = new Set(["Shift", "Control", "Alt", "Meta", "CapsLock", "Dead", "Unidentified"]);

// The name of the key an event pressed, or null for a modifier alone.
export function keyName(event) {
  if (MODIFIER_KEYS.has(event.key)) return null;
  const key = event.key === " " ? "Space" : event.key.length === 1 ? event.key.toLowerCase() : event.key;
  const held = [event.ctrlKey && "Ctrl", event.altKey && "Alt", event.metaKey && "Meta"].filter(Boolean);
  return [...held, key].join("+");
}

// command -> key in effect: the defaults with the saved overrides.
export function hotkeyMap() {
  return { ...DEFAULT_HOTKEYS, ...(getPreference("hotkeys") ?? {}) };
}

// A control's name and tooltip, "Zoom in (+)" with the key in effect for `command` (if
// any); returns that key ("" for none).
export function describe(node, label, command) {
  const key = (command && hotkeyMap()[command]) || "";
  node.setAttribute("aria-label", label);
  node.title = key ? `${label} (${key})` : label;
  return key;
}

function typing(target) {
  return target instanceof Element && Boolean(target.closest("input, textarea, select, [contenteditable]"));
}

// In an open menu or panel (popup.js) Enter and Space press the item that has the focus.
// On the bar they stay the viewer's keys, as in OHIF: a toolbar button keeps the focus
// after a click, and Space still resets the view.
function pressing(target, name) {
  return (name === "Space" || name === "Enter") && target instanceof Element && Boolean(target.closest(".popup"));
}

// Run commands[name] when its key is pressed on target; returns the uninstaller.
export function installHotkeys(target, commands) {
  const listener = (event) => {
    if (event.defaultPrevented || typing(event.target) || document.querySelector("dialog[open]")) return;
    const name = keyName(event);
    if (!name || pressing(event.target, name)) return;
    const command = Object.entries(hotkeyMap()).find(([, key]) => key === name)?.[0];
    if (!command || !commands[command]) return;
    event.preventDefault();
    commands[command]();
  };
  target.addEventListener("keydown", listener);
  return () => target.removeEventListener("keydown", listener);
}
