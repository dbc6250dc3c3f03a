// The hanging protocol shown and its stage, discreetly in the viewer header ("Compare Two
// Studies · 2x1"), between previous / next stage buttons (OHIF's stage navigation). All of
// it is the worker's answer (openViewer, applyStage: protocol {id, name, stageIndex,
// stageId, stages: [{id, name, status}]}); a button is disabled when no stage that is not
// disabled lies that way. Text only: protocol and stage names may come from a site's config.

import { element } from "./dom.js";
import { COMMAND_LABELS, describe } from "./hotkeys.js";
import { icon } from "./icons.js";

// onStep(+1 | -1): a button was pressed (the page asks the worker for that stage).
export function createStageBar(onStep) {
  const stepButton = (iconName, step) => {
    const node = element("button", { type: "button", className: `stage-step stage-${step > 0 ? "next" : "previous"}` }, icon(iconName));
    node.addEventListener("click", () => onStep(step));
    return node;
  };
  const previous = stepButton("chevron-left", -1);
  const next = stepButton("chevron-right", 1);
  // Their names, with the keys in effect (said again at each update: keys may be remapped).
  const describeSteps = () => {
    describe(previous, COMMAND_LABELS.previousStage, "previousStage");
    describe(next, COMMAND_LABELS.nextStage, "nextStage");
  };
  describeSteps();
  const label = element("span", "stage-label");
  const root = element("div", { className: "hanging-stage", hidden: true }, previous, label, next);
  root.setAttribute("role", "group");
  root.setAttribute("aria-label", "Hanging protocol stage");
  let name = ""; // the protocol's
  return {
    element: root,
    // The answer's protocol (null or absent: nothing to show; nor for the default
    // protocol of one stage: the grid says it all).
    update(protocol) {
      const stages = protocol?.stages ?? [];
      root.hidden = !protocol || (protocol.id === "default" && stages.length < 2);
      if (root.hidden) return;
      const index = protocol.stageIndex ?? 0;
      const stage = stages[index];
      name = protocol.name || protocol.id;
      label.textContent = [name, stage?.name || stage?.id].filter(Boolean).join(" · ");
      label.title = `Hanging protocol ${name}, stage ${index + 1} of ${stages.length}`;
      Object.assign(root.dataset, { protocolId: protocol.id, stageId: protocol.stageId ?? stage?.id ?? "", stageIndex: String(index) });
      describeSteps();
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
