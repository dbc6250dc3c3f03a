// The viewer's toolbar: the primary tools, the view commands, the window presets of the
// active viewport, cine controls, the overlay toggle and the preferences. Every control
// calls a command by name or acts on getActiveViewport(); its pressed states follow the
// active viewport (refreshed on the viewports' "viewportstatechange" events and focus).

import { COMMAND_LABELS, hotkeyMap } from "./hotkeys.js";
import { openPreferencesDialog } from "./preferences_dialog.js";

// Tools: [command, symbol, label, tool], pressed while that tool is the primary one.
// Commands: [command, symbol, label].
const TOOL_BUTTONS = [
  ["windowLevelTool", "◑", "Window/level", "WindowLevel"],
  ["zoomTool", "⊕", "Zoom", "Zoom"],
  ["panTool", "✥", "Pan", "Pan"],
  ["stackScrollTool", "☰", "Stack scroll", "StackScroll"],
];
const COMMAND_BUTTONS = [
  ["zoomIn", "+", "Zoom in"],
  ["zoomOut", "−", "Zoom out"],
  ["fit", "⤢", "Zoom to fit"],
  ["rotateLeft", "⟲", "Rotate left"],
  ["rotateRight", "⟳", "Rotate right"],
  ["flipHorizontal", "⇆", "Flip horizontally"],
  ["flipVertical", "⇅", "Flip vertically"],
  ["invert", "◐", "Invert"],
  ["reset", "↺", "Reset view"],
  ["capture", "PNG", "Capture the viewport as PNG"],
];

function button(symbol, label, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = symbol;
  element.setAttribute("aria-label", label);
  element.addEventListener("click", onClick);
  return element;
}

// "Zoom in (+)": the label with the key in effect, for the tooltip.
function titled(element, command, label) {
  const key = hotkeyMap()[command];
  element.title = key ? `${label} (${key})` : label;
  return element;
}

export function createToolbar(commands, { getActiveViewport }) {
  const bar = document.createElement("div");
  bar.className = "toolbar";
  bar.setAttribute("role", "toolbar");
  bar.setAttribute("aria-label", "Viewport tools");
  const group = (label, ...children) => {
    const element = document.createElement("div");
    element.className = "toolbar-group";
    element.setAttribute("role", "group");
    element.setAttribute("aria-label", label);
    element.append(...children);
    bar.append(element);
    return element;
  };
  const run = (command) => () => commands[command]?.();

  const tools = TOOL_BUTTONS.map(([command, symbol, label, tool]) => {
    const element = titled(button(symbol, label, run(command)), command, label);
    element.dataset.tool = tool;
    return element;
  });
  group("Tools", ...tools);
  const commandButtons = COMMAND_BUTTONS.map(([command, symbol, label]) => {
    const element = titled(button(symbol, label, run(command)), command, COMMAND_LABELS[command] ?? label);
    element.dataset.command = command;
    return element;
  });
  const invert = commandButtons.find((b) => b.dataset.command === "invert");
  group("View", ...commandButtons);

  const presets = document.createElement("select");
  presets.className = "preset-menu";
  presets.setAttribute("aria-label", "Window presets");
  presets.title = "Window presets (keys 1–5)";
  presets.addEventListener("change", () => {
    const n = Number(presets.value);
    presets.value = "";
    if (n) getActiveViewport()?.applyPreset(n);
  });
  group("Window", presets);

  const play = titled(button("▶", "Play cine", run("cine")), "cine", "Play / pause cine");
  play.className = "cine-play";
  const fps = Object.assign(document.createElement("input"), { type: "number", min: "1", max: "120", value: "24" });
  fps.className = "cine-fps";
  fps.setAttribute("aria-label", "Frames per second");
  fps.title = "Frames per second";
  const loop = Object.assign(document.createElement("input"), { type: "checkbox", checked: true });
  loop.setAttribute("aria-label", "Loop");
  const loopLabel = document.createElement("label");
  loopLabel.append(loop, " loop");
  const cineOptions = () => getActiveViewport()?.setCineOptions({ fps: fps.value, loop: loop.checked });
  fps.addEventListener("change", cineOptions);
  loop.addEventListener("change", cineOptions);
  const fpsLabel = document.createElement("label");
  fpsLabel.append(fps, " fps");
  group("Cine", play, fpsLabel, loopLabel);

  const overlays = titled(button("Aa", "Show overlays", run("toggleOverlays")), "toggleOverlays", "Show overlays");
  overlays.dataset.command = "toggleOverlays";
  const preferences = button("⚙", "Preferences", () => {
    const dialog = openPreferencesDialog();
    dialog.addEventListener("close", refresh); // keys in the titles may have changed
  });
  preferences.title = "Preferences: hotkeys and mouse buttons";
  group("Options", overlays, preferences);

  // Show the active viewport's state.
  let presetKey = "";
  function refresh() {
    const viewport = getActiveViewport();
    for (const element of tools) element.setAttribute("aria-pressed", String(viewport?.activePrimaryTool === element.dataset.tool));
    invert.setAttribute("aria-pressed", String(Boolean(viewport?.invert)));
    overlays.setAttribute("aria-pressed", String(viewport ? viewport.overlaysShown : true));
    const playing = Boolean(viewport?.cine.playing);
    play.textContent = playing ? "⏸" : "▶";
    play.setAttribute("aria-label", playing ? "Pause cine" : "Play cine");
    play.setAttribute("aria-pressed", String(playing));
    if (viewport) {
      fps.value = String(viewport.cine.fps);
      loop.checked = viewport.cine.loop;
    }
    const list = viewport?.presets ?? [];
    const key = JSON.stringify(list);
    if (key !== presetKey) {
      presetKey = key;
      const placeholder = new Option(list.length ? "W/L presets" : "No presets", "");
      presets.replaceChildren(
        placeholder,
        ...list.map((p, i) => new Option(`${i < 5 ? `${i + 1}: ` : ""}${p.label} (${p.width}/${p.center})`, String(i + 1))),
      );
      presets.disabled = list.length === 0;
    }
    for (const element of [...tools, ...commandButtons, play, overlays]) {
      const command = element.dataset.command ?? TOOL_BUTTONS.find((t) => t[3] === element.dataset.tool)?.[0];
      if (command) titled(element, command, element.getAttribute("aria-label"));
    }
  }
  document.addEventListener("viewportstatechange", refresh);
  document.addEventListener("focusin", refresh);
  bar.destroy = () => {
    document.removeEventListener("viewportstatechange", refresh);
    document.removeEventListener("focusin", refresh);
    bar.remove();
  };
  refresh();
  return bar;
}
