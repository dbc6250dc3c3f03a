// The hanging protocol shown and its stage, discreetly in the viewer header ("Compare Two
// Studies · 2x1"), between previous / next stage buttons (OHIF's stage navigation). All of
// it is the worker's answer (openViewer, applyStage: protocol {id, name, stageIndex,
// stageId, stages: [{id, name, status}]}); a button is disabled when no stage that is not
// disabled lies that way. Text only: protocol and stage names may come from a site's config.

import { element } from "./dom.js";
import { COMMAND_LABELS, hotkeyMap } from "./hotkeys.js";

// onStep(+1 | -1): a button was pressed (the page asks the worker for that stage).
export function createStageBar(onStep) {
  const stepButton = (symbol, command, step) => {
    const node = element("button", { type: "button", className: `stage-step stage-${step > 0 ? "next" : "previous"}` }, symbol);
    const key = hotkeyMap()[command];
    node.setAttribute("aria-label", COMMAND_LABELS[command]);
    node.title = key ? `${COMMAND_LABELS[command]} (${key})` : COMMAND_LABELS[command];
    node.addEventListener("click", () => onStep(step));
    return node;
  };
  const previous = stepButton("‹", "previousStage", -1);
  const next = stepButton("›", "nextStage", 1);
  const label = element("span", "stage-label");
  const root = element("div", { className: "hanging-stage", hidden: true }, previous, label, next);
  root.setAttribute("role", "group");
  root.setAttribute("aria-label", "Hanging protocol stage");
  let name = ""; // the protocol's
  return {
    element: root,
    // The answer's protocol (null or absent: nothing to show).
    update(protocol) {
      root.hidden = !protocol;
      if (!protocol) return;
      const stages = protocol.stages ?? [];
      const index = protocol.stageIndex ?? 0;
      const stage = stages[index];
      name = protocol.name || protocol.id;
      label.textContent = [name, stage?.name || stage?.id].filter(Boolean).join(" · ");
      label.title = `Hanging protocol ${name}, stage ${index + 1} of ${stages.length}`;
      Object.assign(root.dataset, { protocolId: protocol.id, stageId: protocol.stageId ?? stage?.id ?? "", stageIndex: String(index) });
      const usable = (s) => s.status !== "disabled";
      previous.disabled = !stages.slice(0, index).some(usable);
      next.disabled = !stages.slice(index + 1).some(usable);
      delete root.dataset.changed;
    },
    // The user picked another layout: the stage is no longer what the grid shows (the
    // buttons still hang the protocol's stages again).
    changed() {
      if (root.hidden || root.dataset.changed) return;
      root.dataset.changed = "true";
      label.textContent = name;
      label.title = `${label.title}; the layout was changed since`;
    },
  };
}
