// The series panel (OHIF's study browser): per study a header (patient, date,
// description) and one entry per display set with its thumbnail, modality,
// description, series number, image count, whether it can be shown in MPR (why not, or
// the slices it misses) and load progress. Click an entry to show it in the active
// viewport; drag it onto any viewport (HTML5 drag and drop).
//
// Thumbnails come from the worker's renderThumbnail, one at a time: RGBA from frames,
// or the server's JPEG (thumbnailRendering "rendered"), decoded here. A thumbnail that
// fails leaves a text placeholder. A display set that is no image stack (an SR, a PDF, a
// video, a SEG, an RTSTRUCT: renderThumbnail answers only its {kind}) shows its kind and
// modality as a label instead. DICOM strings are set with textContent only.

import { KIND_LABELS } from "./document_viewport.js";
import { element as node } from "./dom.js";
import { DISPLAY_SET_MIME } from "./viewport_grid.js";

export class SeriesPanel {
  // studies, displaySets: openViewer's answer; onSelect(displaySet): an entry clicked.
  constructor(worker, { studies, displaySets, onSelect }) {
    this.worker = worker;
    this.element = node("aside", "study-browser");
    this.element.setAttribute("aria-label", "Series");
    this.entries = new Map(); // displaySetUID -> entry element
    const byUid = new Map(displaySets.map((d) => [d.displaySetUID, d]));
    for (const study of studies) {
      const group = node("section", "study");
      group.dataset.studyInstanceUid = study.studyInstanceUID;
      const header = node("header", "study-header");
      header.append(
        node("div", "study-patient", study.patientName || "(no name)"),
        node("div", "study-date", study.displayDate),
        node("div", "study-description", study.studyDescription),
      );
      const list = node("ul", "series-list");
      for (const uid of study.displaySetUIDs) {
        const item = node("li");
        item.append(this.entry(byUid.get(uid), onSelect));
        list.append(item);
      }
      group.append(header, list);
      this.element.append(group);
    }
  }

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

  setProgress({ displaySetUID, loaded, failed, total }) {
    const button = this.entries.get(displaySetUID);
    if (!button) return;
    const progress = button.querySelector(".series-progress");
    progress.hidden = false;
    const done = loaded + failed;
    progress.style.setProperty("--loaded", String(done / total));
    progress.dataset.loaded = String(loaded);
    progress.dataset.complete = String(done === total);
    progress.querySelector(".progress-text").textContent =
      done === total && !failed ? "loaded" : `${done}/${total}${failed ? ` (${failed} failed)` : ""}`;
  }

  // Fetch the thumbnails one after the other (they must not hold up the viewports); with
  // `failedOnly`, again those that failed (the server is back).
  async loadThumbnails(failedOnly = false) {
    for (const [uid, button] of this.entries) {
      if (!this.element.isConnected) return; // the page was left
      const box = button.querySelector(".thumbnail");
      if (failedOnly ? box.dataset.state !== "failed" : box.dataset.state === "ready") continue;
      try {
        box.replaceChildren(await this.thumbnail(uid));
        box.dataset.state = "ready";
      } catch {
        box.replaceChildren(node("span", "thumbnail-placeholder", "No preview"));
        box.dataset.state = "failed";
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
