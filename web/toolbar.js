// The viewer's toolbar: the primary tools, the view commands, the window presets of the
// active viewport, cine controls, the overlay toggle and the preferences. Every control
// calls a command by name or acts on getActiveViewport(); its pressed states follow the
// active viewport (refreshed on the viewports' "viewportstatechange" events and focus).

import { element } from "./dom.js";
import { COMMAND_LABELS, hotkeyMap } from "./hotkeys.js";
import { openPreferencesDialog } from "./preferences_dialog.js";
import { TOOLS } from "./viewport.js";

// Tools: [command, symbol, tool, label?], pressed while that tool is the primary one
// (labelled as viewport.js labels the tool, or by `label`), shown only where the active
// viewport can use it (Crosshairs: in MPR). Commands: [command, symbol], labelled as the
// hotkeys label them, or [command, symbol, label] for one without a hotkey.
const TOOL_BUTTONS = [
  ["windowLevelTool", "◑", "WindowLevel"],
  ["zoomTool", "⊕", "Zoom"],
  ["panTool", "✥", "Pan"],
  ["stackScrollTool", "☰", "StackScroll"],
  ["crosshairsTool", "✛", "Crosshairs", "Crosshairs"],
];
const COMMAND_BUTTONS = [
  ["zoomIn", "+"],
  ["zoomOut", "−"],
  ["fit", "⤢"],
  ["rotateLeft", "⟲"],
  ["rotateRight", "⟳"],
  ["flipHorizontal", "⇆"],
  ["flipVertical", "⇅"],
  ["invert", "◐"],
  ["reset", "↺"],
  ["capture", "PNG", "Capture the viewport as PNG"],
];

function button(symbol, label, onClick) {
  const node = element("button", { type: "button" }, symbol);
  node.setAttribute("aria-label", label);
  node.addEventListener("click", onClick);
  return node;
}

// "Zoom in (+)": the label with the key in effect, for the tooltip.
function titled(node, command, label) {
  const key = hotkeyMap()[command];
  node.title = key ? `${label} (${key})` : label;
  return node;
}

export function createToolbar(commands, { getActiveViewport }) {
  const bar = element("div", "toolbar");
  bar.setAttribute("role", "toolbar");
  bar.setAttribute("aria-label", "Viewport tools");
  const group = (label, ...children) => {
    const node = element("div", "toolbar-group", ...children);
    node.setAttribute("role", "group");
    node.setAttribute("aria-label", label);
    bar.append(node);
    return node;
  };
  const run = (command) => () => commands[command]?.();

  const tools = TOOL_BUTTONS.map(([command, symbol, tool, label = TOOLS[tool]]) => {
    const node = titled(button(symbol, label, run(command)), command, label);
    node.dataset.tool = tool;
    return node;
  });
  const toolGroup = group("Tools", ...tools);
  const commandButtons = COMMAND_BUTTONS.map(([command, symbol, label = COMMAND_LABELS[command]]) => {
    const node = titled(button(symbol, label, run(command)), command, label);
    node.dataset.command = command;
    return node;
  });
  const invert = commandButtons.find((b) => b.dataset.command === "invert");
  group("View", ...commandButtons);

  const presets = element("select", { className: "preset-menu", title: "Window presets (keys 1–5)" });
  presets.setAttribute("aria-label", "Window presets");
  presets.addEventListener("change", () => {
    const n = Number(presets.value);
    presets.value = "";
    if (n) getActiveViewport()?.applyPreset(n);
  });
  group("Window", presets);

  const play = titled(button("▶", "Play cine", run("cine")), "cine", COMMAND_LABELS.cine);
  play.className = "cine-play";
  const fps = element("input", { type: "number", min: "1", max: "120", value: "24", className: "cine-fps", title: "Frames per second" });
  fps.setAttribute("aria-label", "Frames per second");
  const loop = element("input", { type: "checkbox", checked: true });
  loop.setAttribute("aria-label", "Loop");
  const cineOptions = () => getActiveViewport()?.setCineOptions({ fps: fps.value, loop: loop.checked });
  fps.addEventListener("change", cineOptions);
  loop.addEventListener("change", cineOptions);
  group("Cine", play, element("label", {}, fps, " fps"), element("label", {}, loop, " loop"));

  const overlays = titled(button("Aa", "Show overlays", run("toggleOverlays")), "toggleOverlays", "Show overlays");
  overlays.dataset.command = "toggleOverlays";
  const preferences = button("⚙", "Preferences", () => {
    const dialog = openPreferencesDialog();
    dialog.addEventListener("close", refresh); // keys in the titles may have changed
  });
  preferences.title = "Preferences: hotkeys and mouse buttons";
  group("Options", overlays, preferences);

  // The page's switches (reference_lines.js): pressed while commands[command].pressed()
  // says so; shown only where the page has the command.
  const toggles = [
    ["toggleReferenceLines", "Ref", "Reference lines"],
    ["toggleSyncScroll", "Sync", "Sync scroll"],
  ].map(([command, symbol, label]) => {
    const toggle = () => {
      run(command)();
      refresh();
    };
    const node = titled(button(symbol, label, toggle), command, label);
    node.dataset.command = command;
    node.hidden = !commands[command];
    return node;
  });
  group("Reference lines and sync", ...toggles);

  // Show the active viewport's state.
  let presetKey = "";
  function refresh() {
    const viewport = getActiveViewport();
    for (const node of tools) node.setAttribute("aria-pressed", String(viewport?.activePrimaryTool === node.dataset.tool));
    // A tool the active viewport cannot use is not in the bar at all.
    const usable = tools.filter((node) =>
      viewport ? viewport.toolAvailable(node.dataset.tool) : Object.hasOwn(TOOLS, node.dataset.tool));
    if (usable.length !== toolGroup.children.length || usable.some((node, i) => toolGroup.children[i] !== node)) {
      toolGroup.replaceChildren(...usable);
    }
    invert.setAttribute("aria-pressed", String(Boolean(viewport?.invert)));
    // A document in the viewport (document_viewport.js) takes none of the image tools.
    for (const node of [...tools, ...commandButtons]) node.disabled = Boolean(viewport?.document);
    overlays.setAttribute("aria-pressed", String(viewport ? viewport.overlaysShown : true));
    for (const node of toggles) node.setAttribute("aria-pressed", String(Boolean(commands[node.dataset.command]?.pressed?.())));
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
      const placeholder = element("option", { value: "" }, list.length ? "W/L presets" : "No presets");
      presets.replaceChildren(
        placeholder,
        ...list.map((p, i) => element("option", { value: String(i + 1) }, `${i < 5 ? `${i + 1}: ` : ""}${p.label} (${p.width}/${p.center})`)),
      );
      presets.disabled = list.length === 0;
    }
    for (const node of [...tools, ...commandButtons, play, overlays]) {
      const command = node.dataset.command ?? TOOL_BUTTONS.find((t) => t[2] === node.dataset.tool)?.[0];
      if (command) titled(node, command, node.getAttribute("aria-label"));
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
