// The viewer's toolbar, laid out as OHIF's default mode: split buttons for the measurement
// tools, zoom (zoom in, out, to fit), window/level (the active viewport's presets) and
// rotate/flip; the pan, stack scroll and (in MPR) crosshairs tools; the controls of the
// view shown (MPR's, setContext) after them; invert, reset, cine, capture, the overlay,
// reference line and sync toggles, the tag browser and the preferences.
//
// Every control runs a command by name (the hotkeys' commands) or acts on
// getActiveViewport(); its tooltip names the command and its key in effect. Pressed states
// follow the active viewport (its "viewportstatechange" events, and focus). The bar keeps
// to one row: what does not fit goes into its "More" panel (toolbar_overflow.js).

import { element } from "./dom.js";
import { COMMAND_LABELS, describe } from "./hotkeys.js";
import { icon } from "./icons.js";
import { openPreferencesDialog } from "./preferences_dialog.js";
import { SplitButton } from "./split_button.js";
import { Overflow } from "./toolbar_overflow.js";
import { TOOLS } from "./viewport.js";

// A measurement tool's icon by its name (the worker's tables.tools); others: MEASURE_ICON.
const MEASURE_ICONS = {
  Length: "ruler",
  Bidirectional: "move-diagonal",
  Angle: "angle",
  CobbAngle: "triangle-right",
  RectangleROI: "rectangle-horizontal",
  EllipticalROI: "ellipse",
  CircleROI: "circle",
  PlanarFreehandROI: "lasso",
  Probe: "pipette",
  ArrowAnnotate: "move-up-right",
};
const MEASURE_ICON = "pencil-ruler";
// [command, icon]: the view commands in the zoom and the rotate/flip menus.
const ZOOM_COMMANDS = [["zoomIn", "zoom-in"], ["zoomOut", "zoom-out"], ["fit", "scan"]];
const ORIENTATION_COMMANDS = [
  ["rotateRight", "rotate-cw"],
  ["rotateLeft", "rotate-ccw"],
  ["flipHorizontal", "flip-horizontal-2"],
  ["flipVertical", "flip-vertical-2"],
];
const PRESET_KEYS = 5; // presets 1-5 have commands (and keys): preset1..preset5

export class Toolbar {
  constructor(commands, { getActiveViewport }) {
    this.commands = commands;
    this.getActiveViewport = getActiveViewport;
    this.described = []; // [node, label, command]: tooltips to redo when the keys change
    this.element = element("div", "toolbar");
    this.element.setAttribute("role", "toolbar");
    this.element.setAttribute("aria-label", "Viewport tools");
    const run = (command) => () => this.commands[command]?.();
    const item = (command, iconName, label = COMMAND_LABELS[command], data = { command }) =>
      ({ id: command, label, icon: iconName, command, data, run: run(command) });

    this.measure = new SplitButton({ label: "Measurement tools" });
    this.measure.element.hidden = true; // until the worker names its tools
    this.zoom = new SplitButton({ label: "Zoom commands", fixed: item("zoomTool", "search", TOOLS.Zoom, { tool: "Zoom" }) });
    this.zoom.setItems(ZOOM_COMMANDS.map(([command, iconName]) => item(command, iconName)));
    this.window = new SplitButton({
      label: "Window presets",
      menuClass: "preset-menu",
      fixed: item("windowLevelTool", "sun-medium", TOOLS.WindowLevel, { tool: "WindowLevel" }),
    });
    this.orientation = new SplitButton({ label: "Rotate and flip" });
    this.orientation.setItems(ORIENTATION_COMMANDS.map(([command, iconName]) => item(command, iconName)));
    this.splits = [this.measure, this.zoom, this.window, this.orientation];

    const pan = this.tool("panTool", "hand", "Pan");
    const stackScroll = this.tool("stackScrollTool", "layers", "StackScroll");
    const crosshairs = this.tool("crosshairsTool", "crosshair", "Crosshairs", "Crosshairs");
    this.toolButtons = [pan, stackScroll, crosshairs];
    this.invert = this.commandButton("invert", "contrast");
    const reset = this.commandButton("reset", "refresh-ccw");
    const capture = this.commandButton("capture", "camera", "Capture the viewport as PNG");
    this.overlays = this.commandButton("toggleOverlays", "captions", "Show overlays");
    // The page's switches (reference_lines.js): pressed while commands[command].pressed()
    // says so; shown only where the page has the command.
    this.toggles = [
      this.commandButton("toggleReferenceLines", "scan-line", "Reference lines"),
      this.commandButton("toggleSyncScroll", "link", "Sync scroll"),
      this.commandButton("toggleConsole", "square-terminal"),
    ];
    for (const toggle of this.toggles) toggle.addEventListener("click", () => this.refresh());
    const tags = this.commandButton("tagBrowser", "tags", "Tag browser");
    const preferences = this.button("settings", "Preferences", null, () => {
      openPreferencesDialog().addEventListener("close", () => this.retitle()); // keys may have changed
    });
    this.imageControls = [...this.toolButtons, this.invert, reset, capture];
    this.orientation.element.classList.add("group-start");
    capture.classList.add("group-start");
    this.before = [this.measure.element, this.zoom.element, this.window.element, ...this.toolButtons];
    this.after = [this.orientation.element, this.invert, reset, this.createCine(), capture, this.overlays, ...this.toggles, tags, preferences];
    this.context = null;
    this.overflow = new Overflow(this.element);
    this.overflow.setItems(this.items());

    this.presetKey = "";
    this.hiddenKey = "";
    this.refresh = this.refresh.bind(this);
    document.addEventListener("viewportstatechange", this.refresh);
    document.addEventListener("focusin", this.refresh);
    this.refresh();
  }

  items() {
    return [...this.before, ...(this.context ? [this.context] : []), ...this.after];
  }

  // An icon button named `label` running `command` (its key in the tooltip), or onClick.
  button(iconName, label, command, onClick = () => this.commands[command]?.()) {
    const node = element("button", { type: "button" }, icon(iconName));
    node.addEventListener("click", onClick);
    describe(node, label, command);
    this.described.push([node, label, command]);
    return node;
  }

  // A button running a command by name (data-command).
  commandButton(command, iconName, label = COMMAND_LABELS[command]) {
    const node = this.button(iconName, label, command);
    node.dataset.command = command;
    return node;
  }

  // A button choosing a tool for the primary mouse button (data-tool), pressed while it
  // is the one.
  tool(command, iconName, tool, label = TOOLS[tool]) {
    const node = this.button(iconName, label, command);
    node.dataset.tool = tool;
    return node;
  }

  // Play / pause, frames per second and loop, for the active viewport.
  createCine() {
    this.play = element("button", { type: "button", className: "cine-play" }); // labelled by refreshCine
    this.play.addEventListener("click", () => this.commands.cine?.());
    this.playing = null;
    this.fps = element("input", { type: "number", min: "1", max: "120", value: "24", className: "cine-fps" });
    describe(this.fps, "Frames per second");
    this.loop = this.button("repeat", "Loop", null, () => {
      this.loop.setAttribute("aria-pressed", String(this.loop.getAttribute("aria-pressed") !== "true"));
      options();
    });
    this.loop.classList.add("cine-loop");
    const options = () => this.getActiveViewport()?.setCineOptions({ fps: this.fps.value, loop: this.loop.getAttribute("aria-pressed") === "true" });
    this.fps.addEventListener("change", options);
    const group = element("div", "toolbar-group cine-controls group-start", this.play, element("label", "cine-rate", this.fps, "fps"), this.loop);
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Cine");
    return group;
  }

  // The measurement tools (tables.tools: [{name, label}], in the menu's order).
  setMeasurementTools(tools) {
    this.measure.setItems(tools.map(({ name, label }) => ({
      id: name,
      label,
      icon: MEASURE_ICONS[name] ?? MEASURE_ICON,
      radio: true,
      className: "measure-tool",
      data: { tool: name },
      run: () => this.getActiveViewport()?.setPrimaryTool(name),
    })));
    this.measure.element.hidden = tools.length === 0;
    this.refresh();
  }

  // The controls of the view shown (MPR's), after the tools; null: none.
  setContext(node) {
    if (node === this.context) return;
    this.context?.remove();
    this.context = node;
    node?.classList.add("group-start");
    this.overflow.setItems(this.items());
  }

  // Show the active viewport's state.
  refresh() {
    const viewport = this.getActiveViewport();
    const active = viewport?.activePrimaryTool;
    if (this.measure.items.some((tool) => tool.id === active)) this.measure.show(active); // as OHIF's
    this.measure.setChecked(active);
    for (const node of [...this.toolButtons, ...this.splits.map((split) => split.primary)]) {
      if (node.dataset.tool) node.setAttribute("aria-pressed", String(node.dataset.tool === active));
    }
    // A tool the active viewport cannot use is not in the bar (crosshairs outside MPR).
    for (const node of this.toolButtons) {
      const tool = node.dataset.tool;
      node.hidden = !(viewport ? viewport.toolAvailable(tool) : Object.hasOwn(TOOLS, tool));
    }
    // A document in the viewport (document_viewport.js) takes none of the image tools.
    const showsDocument = Boolean(viewport?.document);
    for (const node of this.imageControls) node.disabled = showsDocument;
    for (const split of this.splits) split.setDisabled(showsDocument);
    this.invert.setAttribute("aria-pressed", String(Boolean(viewport?.invert)));
    this.overlays.setAttribute("aria-pressed", String(viewport ? viewport.overlaysShown : true));
    for (const node of this.toggles) {
      const command = this.commands[node.dataset.command];
      node.hidden = !command;
      node.setAttribute("aria-pressed", String(Boolean(command?.pressed?.())));
    }
    this.refreshCine(viewport);
    this.refreshPresets(viewport?.presets ?? []);
    const hiddenKey = this.items().map((node) => node.hidden).join();
    if (hiddenKey !== this.hiddenKey) {
      this.hiddenKey = hiddenKey;
      this.overflow.fit();
    }
  }

  refreshCine(viewport) {
    const playing = Boolean(viewport?.cine.playing);
    if (playing !== this.playing) {
      this.playing = playing;
      this.play.replaceChildren(icon(playing ? "pause" : "play"));
      describe(this.play, playing ? "Pause cine" : "Play cine", "cine");
      this.play.setAttribute("aria-pressed", String(playing));
    }
    if (viewport) {
      if (document.activeElement !== this.fps) this.fps.value = String(viewport.cine.fps);
      this.loop.setAttribute("aria-pressed", String(viewport.cine.loop));
    }
  }

  // The window/level menu: the active viewport's presets, the first five with their keys.
  refreshPresets(presets) {
    const key = JSON.stringify(presets);
    if (key === this.presetKey) return;
    this.presetKey = key;
    this.window.setItems(presets.map((preset, i) => ({
      id: String(i + 1),
      label: preset.label,
      detail: `W ${preset.width} L ${preset.center}`,
      command: i < PRESET_KEYS ? `preset${i + 1}` : undefined,
      className: "preset",
      data: { preset: String(i + 1) },
      run: () => this.getActiveViewport()?.applyPreset(i + 1),
    })));
    this.window.arrow.title = presets.length ? "Window presets" : "No window presets for this image";
  }

  // The tooltips again, with the keys now in effect.
  retitle() {
    for (const [node, label, command] of this.described) describe(node, label, command);
    for (const split of this.splits) split.retitle();
    this.playing = null; // relabelled by refreshCine
    this.refresh();
  }

  destroy() {
    document.removeEventListener("viewportstatechange", this.refresh);
    document.removeEventListener("focusin", this.refresh);
    for (const split of this.splits) split.popup.close();
    this.overflow.destroy();
    this.element.remove();
  }
}
