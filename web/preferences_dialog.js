// The preferences dialog: every command with its key (click a row, press a key to remap;
// a key another command uses is refused), the tool of each mouse button, the overlay's
// compact mode, and "Restore defaults". Changes are saved at once in the "hotkeys",
// "toolBindings" and "overlayCompact" preferences. Escape closes it (the browser's
// modal dialog), or cancels a key being awaited.

import { element as node } from "./dom.js";
import { COMMAND_LABELS, DEFAULT_HOTKEYS, hotkeyMap, keyName } from "./hotkeys.js";
import { clearPreference, getPreference, setPreference } from "./preferences.js";
import { DEFAULT_TOOL_BINDINGS, MOUSE_BUTTONS, TOOLS, toolBindings } from "./viewport.js";

// Save the key of a command (only what differs from the defaults is stored).
function saveHotkey(command, key) {
  const overrides = { ...(getPreference("hotkeys") ?? {}), [command]: key };
  if (DEFAULT_HOTKEYS[command] === key) delete overrides[command];
  if (Object.keys(overrides).length) setPreference("hotkeys", overrides);
  else clearPreference("hotkeys");
}

export function openPreferencesDialog() {
  const dialog = node("dialog", { className: "preferences-dialog" });
  const title = node("h2", { id: "preferences-title", textContent: "Preferences" });
  dialog.setAttribute("aria-labelledby", title.id);
  const message = node("p", { className: "preferences-message", role: "status" });
  message.setAttribute("aria-live", "polite");
  const rows = node("tbody");
  const bindings = node("div", { className: "tool-bindings" });
  const compact = node("input", { type: "checkbox", name: "overlay-compact" });
  compact.addEventListener("change", () => setPreference("overlayCompact", compact.checked));
  let waiting = null; // { command, button } while a key is awaited

  function drawHotkeys() {
    const map = hotkeyMap();
    rows.replaceChildren(
      ...Object.entries(COMMAND_LABELS).map(([command, label]) => {
        const key = node("button", { type: "button", className: "hotkey", textContent: map[command] || "—" });
        key.dataset.command = command;
        key.setAttribute("aria-label", `${label}: ${map[command] || "no key"}. Press to change`);
        key.addEventListener("click", () => {
          if (waiting) waiting.button.classList.remove("waiting");
          waiting = { command, button: key };
          key.classList.add("waiting");
          key.textContent = "press a key…";
          message.textContent = `Press the new key for “${label}” (Escape cancels).`;
        });
        const row = node("tr", {}, node("th", { scope: "row", textContent: label }), node("td", {}, key));
        row.dataset.command = command;
        return row;
      }),
    );
  }

  function drawBindings() {
    const current = toolBindings();
    bindings.replaceChildren(
      ...MOUSE_BUTTONS.map((button) => {
        const select = node(
          "select",
          { name: `tool-${button}` },
          ...Object.entries(TOOLS).map(([tool, label]) => node("option", { value: tool, textContent: label, selected: current[button] === tool })),
        );
        select.addEventListener("change", () => {
          const saved = { ...(getPreference("toolBindings") ?? {}), [button]: select.value };
          if (saved[button] === DEFAULT_TOOL_BINDINGS[button]) delete saved[button];
          if (Object.keys(saved).length) setPreference("toolBindings", saved);
          else clearPreference("toolBindings");
        });
        return node("label", {}, `${button[0].toUpperCase()}${button.slice(1)} button `, select);
      }),
    );
  }

  dialog.addEventListener("keydown", (event) => {
    if (!waiting) return;
    event.preventDefault();
    event.stopPropagation();
    const { command } = waiting;
    if (event.key === "Escape") {
      waiting = null;
      message.textContent = "";
      drawHotkeys();
      return;
    }
    const key = keyName(event);
    if (!key) return; // a modifier alone: wait for the key
    const owner = Object.entries(hotkeyMap()).find(([other, used]) => used === key && other !== command)?.[0];
    if (owner) {
      message.textContent = `“${key}” is already used by “${COMMAND_LABELS[owner]}”: choose another key.`;
      message.classList.add("error");
      return;
    }
    saveHotkey(command, key);
    waiting = null;
    message.classList.remove("error");
    message.textContent = `“${COMMAND_LABELS[command]}” is now ${key}.`;
    drawHotkeys();
  });
  // Escape while a key is awaited cancels that, not the dialog.
  dialog.addEventListener("cancel", (event) => waiting && event.preventDefault());

  const restore = node("button", { type: "button", textContent: "Restore defaults" });
  restore.addEventListener("click", () => {
    clearPreference("hotkeys");
    clearPreference("toolBindings");
    clearPreference("overlayCompact");
    compact.checked = false;
    waiting = null;
    message.textContent = "Defaults restored.";
    drawHotkeys();
    drawBindings();
  });
  const close = node("button", { type: "button", textContent: "Close" });
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());

  drawHotkeys();
  drawBindings();
  compact.checked = getPreference("overlayCompact");
  dialog.append(
    title,
    node("h3", { textContent: "Mouse buttons" }),
    bindings,
    node("h3", { textContent: "Viewport overlay" }),
    node("label", {}, compact, " Compact: one line a corner, smaller text"),
    node("h3", { textContent: "Hotkeys" }),
    message,
    node("div", { className: "hotkey-table" }, node("table", { className: "hotkeys" }, rows)),
    node("div", { className: "dialog-buttons" }, restore, close),
  );
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}
