// The viewer page: /viewer?StudyInstanceUIDs=<uid>[,<uid>][&SeriesInstanceUIDs=...]
// [&initialSeriesInstanceUID=...]. Opens the studies in the worker, lists their display
// sets, shows the first (or the initial series) in one viewport and loads the rest of
// its stack in the background.

import { MARKS, markOnce } from "./marks.js";
import { createMeasurementPanel } from "./measurement_panel.js"; // measure
import { MeasurementStore } from "./measurement_store.js"; // measure
import { installMeasurementKeys, MeasurementLayer } from "./measurements.js"; // measure
import { Viewport } from "./viewport.js";

function splitUids(value) {
  return (value ?? "").split(",").map((uid) => uid.trim()).filter(Boolean);
}

export function showViewer({ worker, runtime, main, params }) {
  const studyUids = splitUids(params.get("StudyInstanceUIDs"));
  const seriesUids = splitUids(params.get("SeriesInstanceUIDs"));
  const initialSeries = params.get("initialSeriesInstanceUID");

  const layout = document.createElement("section");
  layout.className = "viewer";
  const strip = document.createElement("nav");
  strip.className = "display-sets";
  const note = document.createElement("p");
  note.className = "note";
  const loading = new Set(); // display sets whose load already started
  const viewport = new Viewport(worker, {
    onDraw: () => {
      markOnce(MARKS.firstImage);
      load(viewport.displaySet, viewport.index);
    },
    onError: () => load(viewport.displaySet, viewport.index),
  });
  layout.append(strip, viewport.element);
  main.append(note, layout);

  // ---- BEGIN measure: the measurement tools on the viewport and their side panel
  const displaySetsByUid = new Map(); // displaySetUID -> [displaySet, its button]
  const store = new MeasurementStore();
  const measurements = new MeasurementLayer(viewport, store, worker, {
    onError: (error) => panel.say(`Not measured: ${error.message}`, true),
  });
  const panel = createMeasurementPanel({
    worker,
    store,
    viewport,
    jumpTo: (displaySetUID, imageIndex) => {
      if (viewport.displaySet?.displaySetUID === displaySetUID) viewport.setIndex(imageIndex);
      else select(...displaySetsByUid.get(displaySetUID), imageIndex);
    },
  });
  const stopMeasurementKeys = installMeasurementKeys(store);
  layout.append(panel.element);
  function showMeasurements(displaySets, buttons, reported) {
    displaySets.forEach((d, i) => displaySetsByUid.set(d.displaySetUID, [d, buttons[i]]));
    panel.setDisplaySets(displaySets);
    store.load(reported);
  }
  // ---- END measure
  const stopProgress = worker.on("progress", (progress) => {
    if (progress.displaySetUID === viewport.displaySet?.displaySetUID) viewport.setProgress(progress);
  });

  function load(displaySet, startIndex) {
    if (!displaySet || loading.has(displaySet.displaySetUID)) return;
    for (const other of loading) worker.call("cancelLoad", { displaySetUID: other }).catch(() => {});
    loading.clear();
    loading.add(displaySet.displaySetUID);
    worker
      .call("loadSeries", { displaySetUID: displaySet.displaySetUID, startIndex })
      .then((result) => {
        if (!result.cancelled) markOnce(MARKS.seriesLoaded);
      })
      .catch(() => {}); // a failing image shows its error when displayed
  }

  function select(displaySet, button, index = 0) {
    for (const other of strip.children) other.setAttribute("aria-pressed", String(other === button));
    viewport.setDisplaySet(displaySet, index);
    viewport.element.focus();
  }

  (async () => {
    if (studyUids.length === 0) throw new Error("no StudyInstanceUIDs in the address");
    note.textContent = "Opening the study…";
    await runtime;
    const { displaySets, measurements: reported } = await worker.call("openStudy", {
      studyInstanceUIDs: studyUids,
      seriesInstanceUIDs: seriesUids,
    });
    note.textContent = "";
    const buttons = displaySets.map((displaySet) => {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.displaySetUid = displaySet.displaySetUID;
      button.dataset.seriesUid = displaySet.seriesInstanceUID;
      const number = displaySet.seriesNumber == null ? "" : `${displaySet.seriesNumber} `;
      button.textContent =
        `${number}${displaySet.modality} ${displaySet.seriesDescription}`.trim() + ` (${displaySet.numImages})`;
      button.addEventListener("click", () => select(displaySet, button));
      strip.append(button);
      return button;
    });
    showMeasurements(displaySets, buttons, reported); // measure
    const first = Math.max(0, displaySets.findIndex((d) => d.seriesInstanceUID === initialSeries));
    select(displaySets[first], buttons[first]);
  })().catch((error) => {
    note.textContent = `This study cannot be opened: ${error.message}`;
  });

  return () => {
    stopProgress();
    stopMeasurementKeys(); // measure
    measurements.destroy(); // measure
    panel.destroy(); // measure
    for (const uid of loading) worker.call("cancelLoad", { displaySetUID: uid }).catch(() => {});
    viewport.destroy();
  };
}
