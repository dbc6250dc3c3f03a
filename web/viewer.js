// The viewer page: /viewer?StudyInstanceUIDs=<uid>[,<uid>][&SeriesInstanceUIDs=...]
// [&initialSeriesInstanceUID=...][&datasources=<name>], and OHIF's
// /viewer/dicomjson?url=<file>[&StudyInstanceUIDs=...] (the studies of a dicomjson file,
// loaded into the worker first; the address stays as it is, so a reload works). The
// worker opens the studies from the named data source and says what goes in
// which viewport (openViewer, with the URL's hangingProtocolId and stageId: the hanging
// protocol, as OHIF's, is matched and applied in Python, ohifpy.hanging); this page builds
// the series panel, the viewport grid and the layout picker, applies the hanging
// (applyHanging: layout, viewports and their options, MPR, sync scroll, the stage in the
// header), keeps the stacks the viewports show loading (loadViewports) and shows each
// series' progress in the panel. Next / previous stage (",", ".") ask the worker for the
// stage (applyStage). The panel lists the patient's other studies (priorStudies), opened
// on demand (addStudy). The picker's MPR layouts (and a stage that is MPR: hangingProtocolId=
// mpr|primaryAxial) show the active viewport's display set in MPR (mpr.js); leaving them
// brings the stack grid back as it was.

import { viewportCommands } from "./commands.js";
import { findImage } from "./document_viewport.js";
import { element as node } from "./dom.js";
import { installHotkeys } from "./hotkeys.js";
import { loadDicomJson } from "./local.js";
import { MARKS, markOnce } from "./marks.js";
import { createMeasurementPanel } from "./measurement_panel.js";
import { MeasurementStore } from "./measurement_store.js";
import { installMeasurementKeys, MeasurementLayer, registerMeasurementTools } from "./measurements.js";
import { loadRequest, MprSession, sourceDisplaySetUID } from "./mpr.js";
import { getPreference, setPreference } from "./preferences.js";
import { showPreview } from "./preview.js";
import { ConsoleClient } from "./console_client.js";
import { ConsolePanel } from "./console_panel.js";
import { ReferenceLines } from "./reference_lines.js";
import { isOverlay, SegmentationPanel } from "./segmentation_panel.js";
import { SeriesPanel } from "./series_panel.js";
import { createStageBar } from "./stage_bar.js";
import { Toolbar } from "./toolbar.js";
import { ViewportGrid, createLayoutPicker } from "./viewport_grid.js";

// Below this width the series panel floats over the grid, closed until toggled.
const NARROW = "(max-width: 1100px)";

// An error whose message is the whole sentence shown.
class Told extends Error {}

export function showViewer({ worker, runtime, main, params, dicomJsonUrl, preview: previewImage }) {
  const page = node("section", "viewer");
  const header = node("header", "viewer-header");
  const toolbarSlot = node("div", "toolbar-slot");
  const note = node("p", "note");
  note.setAttribute("role", "status");
  const body = node("div", "viewer-body");
  page.append(header, note, body);
  main.append(page);
  // The server's rendering while Python starts, until the first diagnostic image (preview.js).
  const preview = showPreview(body, previewImage);

  let displaySets = [];
  let panel = null;
  let thumbnailsStarted = false;
  const drawn = new WeakMap(); // viewport -> display set UID it has drawn (or failed on)
  const unshown = new Set(); // "displaySetUID/index" of images a viewport failed to show

  // Measurements: one store for the page, a drawing layer on each viewport, a side panel.
  const store = new MeasurementStore();
  const measurementLayers = new Map(); // viewport -> its MeasurementLayer
  const stopMeasurementKeys = installMeasurementKeys(store);
  // Made from the worker's tables (init's answer) once it is up (useTables), before the
  // study opens and the grid makes its viewports.
  let tables = null;
  let measurePanel = null;
  let picker = null;
  const stageBar = createStageBar((step) => stepStage(step));

  const grid = new ViewportGrid(worker, {
    onCreate: (viewport) => {
      viewport.imageLinks = imageLinks; // an SR shown there jumps to the images it refers to
      const onError = (error) => measurePanel.say(`Not measured: ${error.message}`, true);
      const layer = new MeasurementLayer(viewport, store, worker, { quantities: tables.quantities, onError });
      measurementLayers.set(viewport, layer);
    },
    onRemove: (viewport) => {
      measurementLayers.get(viewport)?.destroy();
      measurementLayers.delete(viewport);
    },
    onDraw: (viewport, result) => {
      markOnce(MARKS.firstImage);
      preview.remove();
      segmentations.drawn(viewport); // a SEG opened waits for its source's viewports
      // An image that failed shows now: the server is back, so the frames its stack
      // failed on (a load that ended skips them) are asked again.
      if (unshown.delete(`${viewport.displaySet.displaySetUID}/${result.imageIndex}`)) {
        requested = "";
        panel?.loadThumbnails(true); // and so are the thumbnails that failed meanwhile
      }
      settled(viewport);
    },
    onError: (viewport) => {
      preview.remove(); // the viewport says why it shows no image
      unshown.add(`${viewport.displaySet.displaySetUID}/${viewport.canvas.dataset.imageIndex}`); // the failed one
      settled(viewport);
    },
    onActivate: () => refreshPanel(),
    onDrop: (viewport, uid) => show(viewport, displaySets.find((d) => d.displaySetUID === uid)),
  });
  const mpr = new MprSession(worker, grid, {
    onChange: () => {
      if (mpr.active) picker?.setProtocol(mpr.protocol);
      else picker?.setLayout(grid.rows, grid.columns);
      refreshPanel();
      scheduleLoads();
    },
    onError: (error) => tell(`MPR: ${error.message}`, true),
  });
  const seriesToggle = sidePanelToggle(page, "series", "Series");
  const measurementsToggle = sidePanelToggle(page, "measurements", "Measurements");
  // SEG and RTSTRUCT overlays (segmentation_panel.js): their panel shares the right side
  // with the measurements', one open at a time, as OHIF's right panel tabs.
  const segmentationsToggle = sidePanelToggle(page, "segmentations", "Segmentations", false);
  // The Python console (console_panel.js) shares the right side too; the toolbar's button
  // (toggleConsole) clicks its toggle, which is not in the header.
  const consoleToggle = sidePanelToggle(page, "console", "Python", false);
  const rightPanels = [measurementsToggle, segmentationsToggle, consoleToggle];
  const openOnly = (opened) => {
    for (const other of rightPanels) if (other !== opened) other.setOpen(false);
  };
  for (const toggle of rightPanels) {
    toggle.element.addEventListener("click", () => {
      if (toggle.element.getAttribute("aria-expanded") !== "true") return;
      openOnly(toggle);
      if (toggle === consoleToggle) consolePanel.open();
    });
  }
  const segmentations = new SegmentationPanel(worker, grid, {
    showSource: (viewport, uid) => show(viewport, displaySets.find((d) => d.displaySetUID === uid)),
    jumpTo: (displaySetUID, imageIndex) => jumpTo(displaySetUID, imageIndex),
    onOpen: () => {
      segmentationsToggle.setOpen(true);
      openOnly(segmentationsToggle);
    },
  });
  header.append(seriesToggle.element, toolbarSlot, measurementsToggle.element, segmentationsToggle.element);

  // The console's cells run in a worker of their own, over the active viewport's image.
  const consoleClient = new ConsoleClient(worker, {
    onOutput: (output) => consolePanel.write(output),
    onState: (state, message) => consolePanel.setState(state, message),
  });
  const consolePanel = new ConsolePanel(
    consoleClient,
    {
      // The active viewport's series and image (MPR: the middle image of the volume).
      active() {
        const viewport = grid.active;
        const uid = viewport?.document ? "" : (sourceDisplaySetUID(viewport) ?? "");
        const displaySet = displaySets.find((d) => d.displaySetUID === uid);
        const imageIndex = mpr.active ? Math.floor((displaySet?.numImages ?? 1) / 2) : (viewport?.index ?? 0);
        return { displaySetUID: uid, imageIndex, window: mpr.active ? null : (viewport?.window ?? null) };
      },
      measurements: () => store.list(),
      // A derived image: listed with its study's series and shown in the active viewport.
      shown(displaySet) {
        if (!page.isConnected) return;
        displaySets = [...displaySets, displaySet];
        measurePanel.setDisplaySets(displaySets);
        panel?.addDisplaySet(displaySet);
        if (thumbnailsStarted) panel?.loadThumbnails();
        mpr.leave();
        show(grid.active, displaySet);
      },
      overlaid(displaySetUID) {
        for (const viewport of grid.viewports) if (viewport.displaySet?.displaySetUID === displaySetUID) viewport.render();
      },
    },
    { onLeave: () => grid.active?.element.focus({ preventScroll: true }) },
  );
  function toggleConsole() {
    consoleToggle.element.click();
    toolbar.refresh();
  }

  // The measurement tools and their panel, the layout picker (after the series toggle).
  function useTables(answer) {
    tables = answer;
    registerMeasurementTools(tables.tools);
    toolbar.setMeasurementTools(tables.tools);
    measurePanel = createMeasurementPanel({
      worker,
      store,
      tools: tables.tools,
      quantities: tables.quantities,
      getActiveViewport: () => grid.active,
      jumpTo,
    });
    picker = createLayoutPicker(
      tables.layout,
      (rows, columns) => {
        setPreference("layout", `${rows}x${columns}`);
        setLayout(rows, columns);
        stageBar.changed();
      },
      {
        onProtocol: (id) => {
          pickProtocol(id);
          stageBar.changed();
        },
      },
    );
    seriesToggle.element.after(picker.element);
    picker.element.after(stageBar.element);
  }

  // An SR's image references (document_viewport.js): the image is shown in a viewport
  // showing its series, else in another viewport showing no document, else another, else
  // in the SR's own.
  const imageLinks = {
    find: (reference) => findImage(displaySets, reference),
    open({ displaySet, imageIndex }, from) {
      const others = grid.viewports.filter((v) => v !== from);
      const showing = grid.viewports.find((v) => v.displaySet?.displaySetUID === displaySet.displaySetUID);
      const viewport = showing ?? others.find((v) => !v.document) ?? others[0] ?? from;
      grid.setActive(grid.viewports.indexOf(viewport));
      if (showing) showing.setIndex(imageIndex);
      else show(viewport, displaySet, imageIndex);
      viewport.element.focus({ preventScroll: true });
    },
  };

  // Show an image of a stack (a measurement's, a segment's centre): in the viewport showing
  // it, else in the active one (leaving MPR: the stack grid again).
  function jumpTo(displaySetUID, imageIndex) {
    const showing = grid.viewports.find((v) => v.displaySet?.displaySetUID === displaySetUID);
    if (showing) {
      grid.setActive(grid.viewports.indexOf(showing));
      showing.setIndex(imageIndex);
    } else {
      mpr.leave();
      show(grid.active, displaySets.find((d) => d.displaySetUID === displaySetUID), imageIndex);
    }
  }

  function settled(viewport) {
    drawn.set(viewport, viewport.displaySet?.displaySetUID);
    scheduleLoads();
  }

  function show(viewport, displaySet, index = 0) {
    if (!viewport || !displaySet) return;
    if (isOverlay(displaySet)) return void segmentations.open(displaySet, viewport); // over its source
    if (mpr.active) {
      // In MPR a series MPR can show replaces the one shown; another leaves MPR.
      if (displaySet.isReconstructable) return enterMpr(displaySet, mpr.protocol);
      mpr.leave();
      viewport = grid.active;
    }
    grid.show(viewport, displaySet, index);
    refreshPanel();
    scheduleLoads();
  }

  // A new layout keeps the viewports that remain; added ones get the display sets no
  // viewport shows yet, in panel order (as OHIF fills a grown grid).
  function setLayout(rows, columns) {
    mpr.leave(); // from MPR: the stack grid as it was, then the layout picked
    const before = grid.viewports.length;
    grid.setLayout(rows, columns);
    picker.setLayout(rows, columns);
    const shown = new Set(grid.viewports.map((v) => v.displaySet?.displaySetUID));
    const unshown = displaySets.filter((d) => !shown.has(d.displaySetUID));
    for (const viewport of grid.viewports.slice(before)) {
      const next = unshown.shift();
      if (next) grid.show(viewport, next);
    }
    refreshPanel();
    scheduleLoads();
  }

  function refreshPanel() {
    const shown = new Set(grid.viewports.map((v) => sourceDisplaySetUID(v)).filter(Boolean));
    const activeUID = sourceDisplaySetUID(grid.active);
    panel?.markShown(shown, activeUID);
    // The MPR layouts need the active viewport's display set to be a volume.
    const active = displaySets.find((d) => d.displaySetUID === activeUID);
    picker?.setProtocolsAvailable(
      Boolean(active?.isReconstructable),
      active ? (active.reconstructionNote ?? "") : "the active viewport shows no series",
    );
  }

  // The MPR layouts: the same one again leaves MPR.
  function pickProtocol(id) {
    if (mpr.protocol === id) return mpr.leave();
    return enterMpr(displaySets.find((d) => d.displaySetUID === sourceDisplaySetUID(grid.active)), id);
  }

  async function enterMpr(displaySet, id) {
    if (!displaySet) return;
    try {
      await mpr.enter(displaySet, id);
    } catch (error) {
      tell(error.message, true);
    }
  }

  // The hanging part of an openViewer or applyStage answer, as ohifpy.hanging decided it:
  // the layout (rows x columns, or the protocol's custom boxes), what each viewport shows
  // and its options, the active viewport, the protocol and stage in the header, sync
  // scroll, the notice; then MPR of viewports[0]'s display set if the stage is MPR.
  async function applyHanging(answer) {
    mpr.leave(); // a stage replaces MPR as any layout does
    const { rows, columns, layoutOptions = null } = answer.layout;
    const stage = answer.protocol?.stages?.[answer.protocol.stageIndex];
    grid.setLayout(rows, columns, layoutOptions);
    picker.setLayout(rows, columns, layoutOptions?.length ? (stage?.name || stage?.id || "custom") : "");
    const overlays = []; // a SEG or RTSTRUCT hung in a viewport opens over its source there
    answer.viewports.forEach((uid, index) => {
      const displaySet = displaySets.find((d) => d.displaySetUID === uid);
      if (!displaySet) return grid.empty(grid.viewports[index]);
      if (isOverlay(displaySet)) return void overlays.push([grid.viewports[index], displaySet]);
      grid.show(grid.viewports[index], displaySet, 0, startView(answer.viewportOptions?.[index]));
    });
    grid.setActive(answer.activeViewport ?? 0);
    if (!page.contains(document.activeElement) || grid.element.contains(document.activeElement)) {
      grid.active.element.focus({ preventScroll: true });
    }
    stageBar.update(answer.protocol);
    // Compare protocols scroll the prior with the current, by relative position across
    // frames of reference; a stage without sync turns off what a stage turned on.
    if (answer.syncScroll) references.setSync(true, { relative: true });
    else if (references.relative) references.setSync(false, { relative: false });
    setNotice(answer.notice);
    refreshPanel();
    scheduleLoads();
    grid.active.announce(); // the toolbar shows the sync toggle's state
    for (const [viewport, displaySet] of overlays) segmentations.open(displaySet, viewport);
    // A stage that is MPR (hangingProtocolId=mpr|primaryAxial): the worker hung the volume
    // it reformats first (a study without one gets the stack layout and a notice why).
    if (answer.mpr) await enterMpr(displaySets.find((d) => d.displaySetUID === answer.viewports[0]), answer.mpr);
  }

  // A hanging's viewport options (OHIF's displaySets options and viewportOptions) as the
  // first view of the display set a viewport is given (Viewport.startView).
  function startView({ voi, voiInverted = false, flipHorizontal = false, rotation = 0 } = {}) {
    const window = voi && Number.isFinite(voi.windowCenter) && Number.isFinite(voi.windowWidth)
      ? { center: voi.windowCenter, width: voi.windowWidth }
      : null;
    return { window, invert: voiInverted, flipHorizontal, rotation };
  }

  // Next / previous stage (the worker knows which are enabled), one request at a time.
  let staging = Promise.resolve();
  function stepStage(step) {
    staging = staging.then(async () => {
      if (!panel || !page.isConnected) return; // nothing hung yet, or the page was left
      try {
        const answer = await worker.call("applyStage", { step });
        if (page.isConnected) await applyHanging(answer);
      } catch (error) {
        tell(`The stage cannot be changed: ${error.message}`, true);
      }
    });
    return staging;
  }

  // A study of the patient's opened from the series panel: its display sets join the
  // page's, its series are listed (and their thumbnails fetched).
  async function openStudy(studyInstanceUID) {
    const added = await worker.call("addStudy", { studyInstanceUID });
    if (!page.isConnected) return;
    const known = new Set(displaySets.map((d) => d.displaySetUID));
    displaySets = [...displaySets, ...added.displaySets.filter((d) => !known.has(d.displaySetUID))];
    measurePanel.setDisplaySets(displaySets);
    panel.addStudy(added.study, added.displaySets);
    refreshPanel();
    if (thumbnailsStarted) panel.loadThumbnails();
  }

  // The patient's studies by tab, once the viewer is open (a QIDO query by PatientID).
  async function listPriors() {
    try {
      const answer = await worker.call("priorStudies");
      if (page.isConnected) panel.setPriors(answer);
    } catch (error) {
      if (page.isConnected) panel.setPriors({ tabs: null, message: `The patient's other studies cannot be listed: ${error.message}` });
    }
  }

  // The hanging's notice ("" : none) in the note, in place of the previous one.
  let notice = "";
  function setNotice(text = "") {
    const lines = note.textContent.split("\n").filter((line) => line && line !== notice);
    notice = text ?? "";
    note.textContent = [...lines, notice].filter(Boolean).join("\n");
  }

  // A line more in the page's note.
  function tell(text, error = false) {
    note.textContent = [note.textContent, text].filter(Boolean).join("\n");
    if (error) note.classList.add("error");
  }

  // Loading (see worker_api.load_viewports): display sets no viewport shows stop at
  // once; the stacks start only when every viewport has its first image on screen.
  let requested = "";
  function scheduleLoads() {
    const occupied = grid.viewports.filter((v) => v.displaySet && !v.document); // documents load themselves
    const start = occupied.every((v) => drawn.get(v) === v.displaySet.displaySetUID);
    const viewports = occupied.map(loadRequest);
    const key = JSON.stringify([viewports.map((v) => v.displaySetUID).sort(), start]);
    if (key === requested) return;
    requested = key;
    worker.call("loadViewports", { viewports, start }).catch(() => {}); // shown per image
    if (start && !thumbnailsStarted && panel) {
      thumbnailsStarted = true;
      panel.loadThumbnails();
    }
  }

  const told = new Set(); // the notes of series too large for the cache, said once each
  const stopProgress = worker.on("progress", (progress) => {
    panel?.setProgress(progress);
    const goal = progress.held ?? progress.total;
    if (progress.loaded + progress.failed === goal && !progress.failed) markOnce(MARKS.seriesLoaded);
    if (progress.note && !told.has(progress.note)) {
      told.add(progress.note);
      tell(progress.note);
    }
  });

  // The active viewport's commands and the page's own (←/→ viewport, PgUp/PgDn series),
  // for the toolbar and the hotkeys.
  const commands = {
    ...viewportCommands(() => grid.active),
    nextViewport: () => grid.step(1),
    previousViewport: () => grid.step(-1),
    nextSeries: () => stepSeries(1),
    previousSeries: () => stepSeries(-1),
  };
  // The active viewport's image plane on the others, and sync scroll (reference_lines.js).
  const references = new ReferenceLines(grid, worker);
  Object.assign(commands, references.commands(), {
    nextStage: () => stepStage(1),
    previousStage: () => stepStage(-1),
    toggleConsole: Object.assign(() => toggleConsole(), { pressed: () => page.dataset.console === "open" }),
  });
  function stepSeries(step) {
    const viewport = grid.active;
    const shown = displaySets.filter((d) => !isOverlay(d)); // a SEG or RTSTRUCT is no stop: it opens over its source
    const current = shown.findIndex((d) => d.displaySetUID === sourceDisplaySetUID(viewport));
    const next = shown[Math.min(Math.max(current + step, 0), shown.length - 1)];
    if (next && next.displaySetUID !== sourceDisplaySetUID(viewport)) show(viewport, next);
  }
  const removeKeys = installHotkeys(document, commands);
  const toolbar = new Toolbar(commands, { getActiveViewport: () => grid.active });
  toolbarSlot.append(toolbar.element);
  mpr.mountControls(toolbar);

  let sources = null;
  let dataSource = params.get("datasources") ?? "";
  (async () => {
    // The URL's comma-separated UIDs go to the worker as they are: it splits them.
    let studyUids = params.get("StudyInstanceUIDs") ?? "";
    note.textContent = "Opening the study…";
    sources = await runtime;
    if (!page.isConnected) return; // left while Python started
    useTables(sources.tables);
    if (dicomJsonUrl !== undefined) {
      if (!dicomJsonUrl) throw new Told("No DICOM JSON file to open: the address needs url=<the file's address>.");
      note.textContent = "Loading the DICOM JSON file…";
      let loaded;
      try {
        loaded = await loadDicomJson(worker, sources, dicomJsonUrl);
      } catch (error) {
        throw new Told(`The DICOM JSON file ${dicomJsonUrl} could not be loaded: ${error.message}`);
      }
      dataSource = loaded.dataSource;
      if (!studyUids.trim()) studyUids = loaded.studyInstanceUIDs;
      if (studyUids.length === 0) throw new Told(`The DICOM JSON file ${dicomJsonUrl} lists no studies.`);
    }
    const source = sources.dataSources.find((s) => s.name === (dataSource || sources.defaultDataSourceName));
    measurePanel.setDataSource(source);
    note.textContent = "Opening the study…";
    const opened = await worker.call("openViewer", {
      studyInstanceUIDs: studyUids,
      seriesInstanceUIDs: params.get("SeriesInstanceUIDs") ?? "",
      initialSeriesInstanceUID: params.get("initialSeriesInstanceUID") ?? "",
      layout: getPreference("layout") ?? "",
      dataSource,
      hangingProtocolId: params.get("hangingProtocolId") ?? "",
      stageId: params.get("stageId") ?? "",
    });
    if (!page.isConnected) return; // left while opening
    displaySets = opened.displaySets;
    note.textContent = opened.missing.map((m) => `Study ${m.studyInstanceUID} cannot be opened: ${m.message}`).join("\n");
    note.classList.toggle("error", opened.missing.length > 0);
    panel = new SeriesPanel(worker, {
      studies: opened.studies,
      displaySets,
      onSelect: (displaySet) => {
        show(grid.active, displaySet);
        if (matchMedia(NARROW).matches) seriesToggle.setOpen(false);
        grid.active.element.focus({ preventScroll: true });
      },
      onOpenStudy: openStudy,
    });
    body.append(panel.element, grid.element, measurePanel.element, segmentations.element, consolePanel.element);
    measurePanel.setDisplaySets(displaySets);
    store.load(opened.measurements);
    const hung = applyHanging(opened);
    listPriors();
    await hung;
  })().catch((error) => {
    preview.remove();
    if (!page.isConnected) return;
    note.textContent = error instanceof Told ? error.message : `This study cannot be opened: ${error.message}`;
    note.classList.add("error");
    // Local files live in the worker of the tab that opened them, not past a reload.
    if (sources && dataSource && dataSource === sources.localDataSourceName && !(error instanceof Told)) {
      const again = node("a", "open-local-again", "Open the files again");
      again.href = "local";
      again.dataset.route = "";
      note.append(" Local files are kept only in the tab that opened them. ", again);
    } else {
      // The server may answer again (it was down, busy, behind a sign-in): the same page again.
      const again = node("button", "open-again", "Try again");
      again.type = "button";
      again.addEventListener("click", () => dispatchEvent(new PopStateEvent("popstate")));
      note.append(" ", again);
    }
  });

  return () => {
    preview.remove();
    stopProgress();
    removeKeys();
    stopMeasurementKeys();
    measurePanel?.destroy();
    toolbar.destroy();
    picker?.destroy();
    worker.call("loadViewports", { viewports: [] }).catch(() => {}); // stop every load
    mpr.destroy();
    segmentations.destroy();
    consolePanel.destroy();
    references.destroy();
    grid.destroy();
  };
}

// A header button that shows or hides a side panel (page.dataset[key] = "open" | "closed",
// which the CSS follows); open at first unless the screen is narrow, where panels float
// over the grid (or unless `open` says otherwise).
function sidePanelToggle(page, key, label, open = !matchMedia(NARROW).matches) {
  const element = node("button", `panel-toggle ${key}-toggle`, label);
  element.type = "button";
  const setOpen = (open) => {
    page.dataset[key] = open ? "open" : "closed";
    element.setAttribute("aria-expanded", String(open));
  };
  setOpen(open);
  element.addEventListener("click", () => setOpen(page.dataset[key] !== "open"));
  return { element, setOpen };
}
