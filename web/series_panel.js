// The series panel (OHIF's study browser): tabs "Primary", "Recent", "All" of the
// patient's studies (the worker's priorStudies: which study goes in which tab, newest
// first). An opened study shows a header (patient, date, description: names and dates as
// the study list shows them, display_format.js) and one entry per
// display set with its thumbnail, modality, description, series number, image count,
// whether it can be shown in MPR (why not, or the slices it misses) and load progress;
// it is expanded in every tab it is in. A study not opened yet shows a header only (date,
// description, modalities, instance count): clicking it (or Enter) asks the page to open
// it (addStudy), and its series are listed then. Click an entry to show it in the active
// viewport; drag it onto any viewport (HTML5 drag and drop).
//
// Thumbnails come from the worker's renderThumbnail, one at a time: RGBA from frames,
// or the server's JPEG (thumbnailRendering "rendered"), decoded here. A thumbnail that
// fails leaves a text placeholder. A display set that is no image stack (an SR, a PDF, a
// video, a SEG, an RTSTRUCT: renderThumbnail answers only its {kind}) shows its kind and
// modality as a label instead. DICOM strings are set with textContent only.

import { studyDate } from "./display_format.js";
import { KIND_LABELS } from "./document_viewport.js";
import { element as node } from "./dom.js";
import { DISPLAY_SET_MIME } from "./viewport_grid.js";

const PROGRESS_REDRAW_MS = 250;

export class SeriesPanel {
  // studies, displaySets: openViewer's answer; onSelect(displaySet): an entry clicked;
  // onOpenStudy(studyInstanceUID): a study not opened yet was clicked, resolved once the
  // page has opened it and called addStudy (a rejection's message is shown on it).
  constructor(worker, { studies, displaySets, onSelect, onOpenStudy = async () => {} }) {
    this.worker = worker;
    this.onSelect = onSelect;
    this.onOpenStudy = onOpenStudy;
    this.element = node("aside", "study-browser");
    this.element.setAttribute("aria-label", "Series");
    this.entries = new Map(); // displaySetUID -> entry element
    this.progress = new Map(); // displaySetUID -> {latest, shownAt, timer}: its load's progress
    this.thumbnailing = new Set(); // displaySetUIDs whose thumbnail is being fetched
    this.opened = new Map(); // studyInstanceUID -> its section (header and series)
    this.closed = new Map(); // studyInstanceUID -> the header of a study not opened yet
    this.primary = studies.map((study) => study.studyInstanceUID); // the URL's, in its order
    // Until priorStudies answers, only the studies opened; then the worker's tabs.
    this.tabs = [{ name: "primary", label: "Primary", studies: null }];
    this.selected = "primary";
    this.tablist = node("div", "study-tabs");
    this.tablist.setAttribute("role", "tablist");
    this.tablist.setAttribute("aria-label", "Studies");
    this.tablist.addEventListener("keydown", (event) => this.tabKey(event));
    this.message = node("p", "study-browser-message");
    this.list = node("div", "study-list");
    this.list.id = `study-list-${Math.random().toString(36).slice(2)}`;
    this.list.setAttribute("role", "tabpanel");
    this.element.append(this.tablist, this.message, this.list);
    for (const study of studies) this.openStudy(study, displaySets);
    this.renderTabs();
    this.render();
  }

  // The worker's priorStudies answer ({tabs, message}); tabs null: only the message.
  setPriors({ tabs, message = "" }) {
    if (tabs?.length) this.tabs = tabs;
    this.message.textContent = message;
    if (!this.tabs.some((tab) => tab.name === this.selected)) this.selected = this.tabs[0].name;
    this.renderTabs();
    this.render();
  }

  // A study opened (openViewer's, or addStudy's answer): its header and series entries,
  // expanded wherever it is listed.
  addStudy(study, displaySets) {
    this.openStudy(study, displaySets);
    this.render();
  }

  // One more display set of an opened study (an image the Python console showed).
  addDisplaySet(displaySet) {
    const list = this.opened.get(displaySet.studyInstanceUID)?.querySelector(".series-list");
    if (!list || this.entries.has(displaySet.displaySetUID)) return;
    const item = node("li");
    item.append(this.entry(displaySet, this.onSelect));
    list.append(item);
  }

  openStudy(study, displaySets) {
    const uid = study.studyInstanceUID;
    if (this.opened.has(uid)) return;
    const byUid = new Map(displaySets.map((d) => [d.displaySetUID, d]));
    const group = node("section", "study");
    group.dataset.studyInstanceUid = uid;
    const header = node("header", "study-header");
    header.append(
      node("div", "study-patient", study.patientNameText || "(no name)"),
      node("div", "study-date", studyDate(study)),
      node("div", "study-description", study.studyDescription),
    );
    const list = node("ul", "series-list");
    for (const displaySetUID of study.displaySetUIDs ?? [...byUid.keys()]) {
      const displaySet = byUid.get(displaySetUID);
      if (!displaySet) continue;
      const item = node("li");
      item.append(this.entry(displaySet, this.onSelect));
      list.append(item);
    }
    group.append(header, list);
    this.opened.set(uid, group);
    this.closed.delete(uid);
  }

  // ---------------------------------------------------------------- tabs

  renderTabs() {
    this.tablist.replaceChildren(
      ...this.tabs.map((tab) => {
        const button = node("button", "study-tab", tab.label);
        button.type = "button";
        button.dataset.tab = tab.name;
        button.setAttribute("role", "tab");
        button.setAttribute("aria-controls", this.list.id);
        const selected = tab.name === this.selected;
        button.setAttribute("aria-selected", String(selected));
        button.tabIndex = selected ? 0 : -1;
        button.addEventListener("click", () => this.select(tab.name));
        return button;
      }),
    );
  }

  select(name) {
    this.selected = name;
    for (const button of this.tablist.children) {
      const selected = button.dataset.tab === name;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
    }
    this.render();
  }

  // ←/→ (Home/End) move between the tabs, as a tab list does.
  tabKey(event) {
    const buttons = [...this.tablist.children];
    const at = buttons.indexOf(document.activeElement);
    const to = { ArrowLeft: at - 1, ArrowRight: at + 1, Home: 0, End: buttons.length - 1 }[event.key];
    if (at < 0 || to === undefined) return;
    event.preventDefault();
    event.stopPropagation(); // not the viewer's ←/→
    const button = buttons[(to + buttons.length) % buttons.length];
    this.select(button.dataset.tab);
    button.focus();
  }

  // The selected tab's studies: opened ones expanded, the others as headers to open.
  // "Primary" lists the studies the URL opened, in its order, as the panel always did.
  render() {
    const tab = this.tabs.find((t) => t.name === this.selected) ?? this.tabs[0];
    const label = [...this.tablist.children].find((button) => button.dataset.tab === tab.name);
    if (label) this.list.setAttribute("aria-labelledby", (label.id ||= `${this.list.id}-${tab.name}`));
    const sections = tab.name === "primary" || !tab.studies
      ? this.primary.map((uid) => this.opened.get(uid))
      : tab.studies.map((study) => this.opened.get(study.studyInstanceUID) ?? this.closedStudy(study));
    this.list.replaceChildren(...sections.filter(Boolean));
  }

  // A study not opened yet: a header button with its date, description, modalities and
  // instance count.
  closedStudy(study) {
    const uid = study.studyInstanceUID;
    if (this.closed.has(uid)) return this.closed.get(uid);
    const group = node("section", "study closed");
    group.dataset.studyInstanceUid = uid;
    const header = node("button", "study-header study-open");
    header.type = "button";
    header.setAttribute("aria-expanded", "false");
    const modalities = Array.isArray(study.modalities) ? study.modalities.join(", ") : study.modalities;
    const instances = study.numInstances ?? study.numberOfInstances; // the contract's name, the study list's
    const count = instances == null ? "" : `${instances} ${instances === 1 ? "instance" : "instances"}`;
    header.append(
      node("div", "study-date", studyDate(study) ?? "(no date)"),
      node("div", "study-description", study.studyDescription || "(no description)"),
      node("div", "study-meta", [modalities, count].filter(Boolean).join(" · ")),
    );
    const status = node("div", "study-status");
    status.setAttribute("role", "status");
    header.addEventListener("click", () => this.open(uid, header, status));
    group.append(header, status);
    this.closed.set(uid, group);
    return group;
  }

  async open(uid, header, status) {
    if (header.getAttribute("aria-busy") === "true") return;
    header.setAttribute("aria-busy", "true");
    status.classList.remove("error");
    status.textContent = "Opening…";
    const focused = header === document.activeElement;
    try {
      await this.onOpenStudy(uid);
      status.textContent = "";
      // Its series are listed now: the keyboard goes on to the first one.
      if (focused) this.opened.get(uid)?.querySelector(".series-entry")?.focus();
    } catch (error) {
      status.textContent = `This study cannot be opened: ${error.message}`;
      status.classList.add("error");
    } finally {
      header.setAttribute("aria-busy", "false");
    }
  }

  // ---------------------------------------------------------------- series entries

  entry(displaySet, onSelect) {
    const button = node("button", "series-entry");
    button.type = "button";
    button.draggable = true;
    button.dataset.displaySetUid = displaySet.displaySetUID;
    button.dataset.seriesUid = displaySet.seriesInstanceUID;
    button.dataset.reconstructable = String(Boolean(displaySet.isReconstructable));
    const thumbnail = node("div", "thumbnail");
    const kind = displaySet.kind ?? "image";
    button.dataset.kind = kind;
    if (Object.hasOwn(KIND_LABELS, kind)) {
      thumbnail.replaceChildren(kindLabel(kind, displaySet.modality));
      thumbnail.dataset.state = "ready"; // nothing to render
    }
    const info = node("div", "series-info");
    const line = node("div", "series-line");
    line.append(
      node("span", "modality", displaySet.modality || "?"),
      node("span", "series-number", displaySet.seriesNumber == null ? "" : `S: ${displaySet.seriesNumber}`),
      node("span", "image-count", countText(displaySet)),
    );
    const progress = node("div", "series-progress");
    progress.hidden = true;
    progress.append(node("div", "bar"), node("span", "progress-text"));
    info.append(line, node("div", "series-description", displaySet.seriesDescription));
    const mpr = Object.hasOwn(KIND_LABELS, kind) ? null : this.reconstruction(displaySet);
    if (mpr) info.append(mpr);
    info.append(progress);
    button.append(thumbnail, info);
    button.addEventListener("click", () => onSelect(displaySet));
    button.addEventListener("dragstart", (event) => {
      event.dataTransfer.setData(DISPLAY_SET_MIME, displaySet.displaySetUID);
      event.dataTransfer.setData("text/plain", displaySet.seriesInstanceUID);
      event.dataTransfer.effectAllowed = "copy";
    });
    this.entries.set(displaySet.displaySetUID, button);
    return button;
  }

  // "No MPR: <why>" for a display set MPR cannot use; for one it can, its note (slices
  // missing from a regular grid), if any. Text only: the reason is the worker's phrase.
  reconstruction({ isReconstructable, reconstructionNote }) {
    if (isReconstructable && !reconstructionNote) return null;
    const text = isReconstructable
      ? `MPR: ${reconstructionNote}`
      : reconstructionNote ? `No MPR: ${reconstructionNote}` : "No MPR";
    const note = node("div", "series-mpr", text);
    note.title = isReconstructable ? "Can be shown in MPR" : "Cannot be shown in MPR";
    return note;
  }

  // Which display sets the viewports show, and the active viewport's.
  markShown(shownUids, activeUid) {
    for (const [uid, button] of this.entries) {
      button.classList.toggle("shown", shownUids.has(uid));
      button.setAttribute("aria-current", String(uid === activeUid));
    }
  }

  // A load's progress; `held` < `total`: the series is larger than the cache, and only
  // the images nearest the one shown are kept (ohifpy.viewer.frames.Frames.holdable).
  // The worker counts every image; each count shown costs the page a style, layout and
  // paint pass, which on two cores is time taken from the load itself. So a load's first
  // and last counts show at once, those between at most every PROGRESS_REDRAW_MS.
  setProgress(progress) {
    const { displaySetUID: uid, loaded, failed, total, held = total } = progress;
    const state = this.progress.get(uid) ?? { shownAt: -Infinity, timer: null };
    state.latest = progress;
    this.progress.set(uid, state);
    const wait = state.shownAt + PROGRESS_REDRAW_MS - performance.now();
    if (loaded + failed === held || wait <= 0) this.showProgress(uid);
    else state.timer ??= setTimeout(() => this.showProgress(uid), wait);
  }

  showProgress(uid) {
    const state = this.progress.get(uid);
    clearTimeout(state.timer);
    state.timer = null;
    state.shownAt = performance.now();
    const { loaded, failed, total, held = total } = state.latest;
    const button = this.entries.get(uid);
    if (!button) return;
    const progress = button.querySelector(".series-progress");
    progress.hidden = false;
    const done = loaded + failed;
    progress.style.setProperty("--loaded", String(done / total));
    progress.dataset.loaded = String(loaded);
    progress.dataset.complete = String(done === held);
    const of = held < total ? `${held}/${total} held` : "loaded";
    progress.querySelector(".progress-text").textContent =
      done === held && !failed ? of : `${done}/${held}${failed ? ` (${failed} failed)` : ""}`;
  }

  // Fetch the thumbnails one after the other (they must not hold up the viewports); with
  // `failedOnly`, again those that failed (the server is back).
  // Entries listed later (a study opened from the panel) are fetched by the next call;
  // one being fetched by another call is skipped.
  async loadThumbnails(failedOnly = false) {
    for (const [uid, button] of this.entries) {
      if (!this.element.isConnected) return; // the page was left
      const box = button.querySelector(".thumbnail");
      if (failedOnly ? box.dataset.state !== "failed" : box.dataset.state === "ready") continue;
      if (this.thumbnailing.has(uid)) continue;
      this.thumbnailing.add(uid);
      try {
        box.replaceChildren(await this.thumbnail(uid));
        box.dataset.state = "ready";
      } catch {
        box.replaceChildren(node("span", "thumbnail-placeholder", "No preview"));
        box.dataset.state = "failed";
      } finally {
        this.thumbnailing.delete(uid);
      }
    }
  }

  async thumbnail(displaySetUID) {
    const result = await this.worker.call("renderThumbnail", { displaySetUID });
    if (result.kind) return kindLabel(result.kind, this.entries.get(displaySetUID)?.querySelector(".modality")?.textContent);
    const canvas = node("canvas");
    if (result.encoded) {
      const bitmap = await createImageBitmap(new Blob([result.encoded], { type: result.mediaType }));
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
      canvas.getContext("2d").drawImage(bitmap, 0, 0);
      bitmap.close();
    } else {
      const { width, height, rgba } = result;
      canvas.width = width;
      canvas.height = height;
      const pixels = new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.byteLength);
      canvas.getContext("2d").putImageData(new ImageData(pixels, width, height), 0, 0);
    }
    return canvas;
  }
}

// "75 frames", "12 images", "1 document": what a series entry counts.
function countText({ kind = "image", numImages, isMultiframe, numberOfFrames }) {
  if (kind === "video") return numberOfFrames > 1 ? `${numberOfFrames} frames` : "video";
  if (Object.hasOwn(KIND_LABELS, kind)) return kind === "sr" || kind === "pdf" ? "document" : "";
  return `${numImages} ${isMultiframe ? "frames" : numImages === 1 ? "image" : "images"}`;
}

// The thumbnail of a display set that has no image: its kind ("PDF") and modality ("DOC").
function kindLabel(kind, modality) {
  const label = node("div", "thumbnail-kind");
  label.dataset.kind = kind;
  const text = KIND_LABELS[kind] ?? kind.toUpperCase();
  label.append(node("span", "thumbnail-label", text));
  if (modality && modality !== text) label.append(node("span", "thumbnail-modality", modality));
  return label;
}
