// What a viewport shows in place of its canvas when its display set is no image stack
// (ohifpy.model's kinds), as OHIF's cornerstone-dicom-sr, dicom-pdf and dicom-video
// viewports do:
//
//   sr     the document's header (title, type, completion and verification flags, date,
//          observers) and its content tree as nested lists: concept name, value (with its
//          unit); references to images are buttons that show the image (in a viewport
//          showing its series, else another viewport, else this one), disabled with the
//          reason when no open display set has it (the worker's srDocument)
//   pdf    the browser's PDF viewer in an <iframe> of a Blob of the bytes, and a download
//          button (encapsulatedDocument)
//   video  a <video> of a Blob of the bytes (its note instead when canPlayType says no or
//          the element cannot play it), play/pause, a frame back or forward (buttons and
//          the viewport's previous / next image keys), the time and frame shown
//   seg, rtstruct: shown over their source images, not on their own: a note says so
//
// Every string from a document is set as text (textContent, text nodes), never as markup.
// A Blob URL lives as long as its view: destroy() (the viewport moves on) revokes it.
// The viewer page lends the views its display sets through viewport.imageLinks
// ({find(reference) -> {displaySet, imageIndex} | null, open(target, viewport)}).
//
// Under the app's Content-Security-Policy this takes `frame-src blob:` (the PDF) and
// `media-src blob:` (the video); `object-src` stays 'none' (no <object>/<embed>).

import { downloadBlob, element } from "./dom.js";

// The kinds shown here, and how the series panel labels each kind.
export const KIND_LABELS = { sr: "SR", pdf: "PDF", video: "Video", seg: "SEG", rtstruct: "RTSTRUCT" };

// Whether a display set is shown by a DocumentView rather than as an image stack (an MPR
// view's display set has no kind: a stack).
export function isDocument(displaySet) {
  return Object.hasOwn(KIND_LABELS, displaySet?.kind ?? "image");
}

const DEFAULT_FRAME_MS = 1000 / 24; // frame stepping of a video whose header gives no rate
const SCROLL_STEP = 48; // CSS pixels an SR moves per previous / next image key

// The image an SR reference points to among the viewer's display sets: {displaySet,
// imageIndex} of the first image stack holding that SOP instance (its `frameNumbers[0]`th
// frame for a multi-frame one: the frames of one instance repeat its UID in order), or null.
export function findImage(displaySets, { sopInstanceUID, frameNumbers = [] }) {
  const frame = Number(frameNumbers[0]) || 1;
  for (const displaySet of displaySets) {
    if (isDocument(displaySet)) continue;
    const uids = displaySet.sopInstanceUIDs ?? [];
    let first = -1;
    let seen = 0;
    for (let i = 0; i < uids.length; i++) {
      if (uids[i] !== sopInstanceUID) continue;
      if (first < 0) first = i;
      if (++seen === frame) return { displaySet, imageIndex: i };
    }
    if (first >= 0) return { displaySet, imageIndex: first };
  }
  return null;
}

// "00:01.28": minutes, seconds and hundredths.
function clock(seconds) {
  const value = Number.isFinite(seconds) ? Math.max(0, seconds) : 0;
  const minutes = Math.floor(value / 60);
  return `${String(minutes).padStart(2, "0")}:${(value - minutes * 60).toFixed(2).padStart(5, "0")}`;
}

function textButton(text, label, onClick) {
  const node = element("button", { type: "button" }, text);
  node.setAttribute("aria-label", label);
  node.title = label;
  node.addEventListener("click", onClick);
  return node;
}

export class DocumentView {
  // viewport: the Viewport whose canvas this view replaces (its worker, its imageLinks).
  constructor(viewport, displaySet) {
    this.viewport = viewport;
    this.worker = viewport.worker;
    this.displaySet = displaySet;
    this.urls = []; // Blob URLs to revoke
    this.cleanups = []; // listeners to remove
    this.closed = false;
    this.video = null;
    this.element = element("div", "document-view");
    this.element.dataset.kind = displaySet.kind;
    this.element.dataset.displaySetUid = displaySet.displaySetUID;
    this.element.dataset.state = "loading";
    this.status = element("p", "document-status", "Loading…");
    this.status.setAttribute("role", "status");
    this.element.append(this.status);
    this.load();
  }

  destroy() {
    this.closed = true;
    if (this.video) {
      this.video.pause();
      this.video.removeAttribute("src");
      this.video.load(); // lets the decoder and the Blob go
    }
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.element.remove();
  }

  objectURL(blob) {
    const url = URL.createObjectURL(blob);
    this.urls.push(url);
    return url;
  }

  async load() {
    const { kind, displaySetUID } = this.displaySet;
    try {
      if (kind === "sr") {
        const report = await this.worker.call("srDocument", { displaySetUID });
        if (this.closed) return;
        this.showReport(report);
      } else if (kind === "pdf" || kind === "video") {
        const content = await this.worker.call("encapsulatedDocument", { displaySetUID });
        if (this.closed) return;
        if (kind === "pdf") this.showPdf(content);
        else this.showVideo(content);
      } else {
        const what = kind === "seg" ? "A segmentation" : "A structure set";
        this.say(`${what} is shown over the images of its series, not on its own.`);
        this.element.dataset.state = "ready";
        return;
      }
      this.element.dataset.state = "ready";
    } catch (error) {
      if (this.closed) return;
      this.element.dataset.state = "failed";
      this.say(`This ${KIND_LABELS[kind] ?? "document"} cannot be shown: ${error.message}`, true);
      const again = textButton("Try again", "Try again", () => {
        this.element.replaceChildren(this.status);
        this.element.dataset.state = "loading";
        this.say("Loading…");
        this.load();
      });
      again.className = "document-retry";
      this.status.append(" ", again);
    }
  }

  say(text, error = false) {
    this.status.textContent = text;
    this.status.classList.toggle("error", error);
  }

  // ---------------------------------------------------------------- keys

  // The viewport's previous / next image (↑/↓): a frame of a video, a step of a report.
  scroll(delta) {
    if (this.video) this.step(delta);
    else this.body?.scrollBy({ top: delta * SCROLL_STEP });
  }

  // The viewport's cine command: a video plays or pauses.
  togglePlay() {
    if (!this.video) return;
    if (this.video.paused) this.video.play().catch((error) => this.say(`The video does not play: ${error.message}`, true));
    else this.video.pause();
  }

  // ---------------------------------------------------------------- SR

  showReport(report) {
    const header = element("header", "sr-header");
    header.append(element("h2", "sr-title", report.title || report.documentType || "Structured report"));
    const facts = element("dl", "sr-facts");
    const fact = (name, value) => {
      if (value) facts.append(element("dt", "", name), element("dd", "", value));
    };
    fact("Document", report.documentType);
    const completion = [report.completionFlag, report.completionFlagDescription].filter(Boolean).join(": ");
    fact("Completion", completion);
    fact("Verification", report.verificationFlag);
    fact("Preliminary", report.preliminaryFlag);
    fact("Content date", report.contentDateTime);
    fact("Observers", (report.observers ?? []).join(", "));
    for (const verifier of report.verifyingObservers ?? []) {
      fact("Verified by", [verifier.name, verifier.organization, verifier.dateTime].filter(Boolean).join(", "));
    }
    header.append(facts);
    this.body = element("div", "sr-document");
    this.body.tabIndex = 0; // scrollable with the keyboard
    this.body.append(header);
    if (report.truncated) {
      this.body.append(element("p", "sr-truncated", "The document is too large: only its first items are shown."));
    }
    const tree = this.tree(report.root?.children ?? []);
    if (tree) this.body.append(tree);
    else this.body.append(element("p", "sr-empty", "The document has no content items."));
    this.element.replaceChildren(this.body);
  }

  tree(nodes) {
    if (!nodes.length) return null;
    const list = element("ul", "sr-tree");
    for (const node of nodes) list.append(this.item(node));
    return list;
  }

  item(node) {
    const item = element("li", "sr-item");
    item.dataset.valueType = node.valueType ?? "";
    item.dataset.id = node.id ?? "";
    const line = element("div", "sr-line");
    if (node.relationship) line.title = node.relationship;
    const name = node.conceptName || (node.valueType === "CONTAINER" ? "" : node.valueType);
    if (name) line.append(element("span", "sr-concept", name));
    if (node.value) {
      const value = element("span", "sr-value", node.value);
      if (node.unit) value.dataset.unit = node.unit;
      line.append(value);
    }
    if (node.referencedContentItem) line.append(element("span", "sr-by-reference", `see item ${node.referencedContentItem}`));
    for (const reference of node.references ?? []) line.append(this.referenceButton(reference));
    item.append(line);
    const children = this.tree(node.children ?? []);
    if (children) item.append(children);
    return item;
  }

  // A button that shows the referenced image; disabled, saying why, when no open display
  // set holds it.
  referenceButton(reference) {
    const links = this.viewport.imageLinks;
    const target = links?.find(reference) ?? null;
    const frames = reference.frameNumbers?.length ? `, frame ${reference.frameNumbers.join(", ")}` : "";
    const button = element("button", { type: "button", className: "sr-reference" });
    button.dataset.sopInstanceUid = reference.sopInstanceUID ?? "";
    if (reference.graphicType) button.dataset.graphicType = reference.graphicType;
    if (target) {
      const { displaySet, imageIndex } = target;
      const series = [displaySet.modality, displaySet.seriesDescription].filter(Boolean).join(" ");
      button.textContent = `Show image ${imageIndex + 1}${frames}`;
      button.title = `${series || "Series"}: image ${imageIndex + 1} of ${displaySet.numImages}` +
        (reference.graphicType ? ` (${reference.graphicType.toLowerCase()} drawn on it)` : "");
      button.addEventListener("click", () => {
        const now = links.find(reference); // the display sets may have changed since
        if (now) links.open(now, this.viewport);
      });
    } else {
      button.textContent = `Image${frames} not open`;
      button.disabled = true;
      button.title = `The referenced image (SOP instance ${reference.sopInstanceUID}) is not in the studies open in the viewer`;
    }
    return button;
  }

  // ---------------------------------------------------------------- PDF

  showPdf(content) {
    const blob = new Blob([content.data], { type: content.mediaType || "application/pdf" });
    const frame = element("iframe", { className: "pdf-frame", title: content.fileName || "PDF document" });
    frame.src = this.objectURL(blob);
    // A series dragged from the panel must reach the viewport, not the PDF viewer's frame
    // (which would take the drop): the frame lets the pointer through while a drag lasts.
    const through = (yes) => () => (frame.style.pointerEvents = yes ? "none" : "");
    const listeners = [["dragstart", through(true)], ["dragend", through(false)], ["drop", through(false)]];
    for (const [type, listener] of listeners) document.addEventListener(type, listener, true);
    this.cleanups.push(() => listeners.forEach(([type, listener]) => document.removeEventListener(type, listener, true)));
    const bar = element("div", "document-bar");
    bar.append(this.downloadButton(blob, content.fileName), element("span", "document-name", content.fileName));
    this.element.replaceChildren(bar, frame);
  }

  downloadButton(blob, fileName) {
    const button = textButton("Download", `Download ${fileName}`, () => downloadBlob(blob, fileName));
    button.className = "document-download";
    return button;
  }

  // ---------------------------------------------------------------- video

  showVideo(content) {
    const blob = new Blob([content.data], { type: content.mediaType || "video/mp4" });
    const bar = element("div", "document-bar");
    const note = content.note || "This browser cannot play this video.";
    const playable = !content.playableType || element("video").canPlayType(content.playableType) !== "";
    if (!playable) {
      bar.append(this.downloadButton(blob, content.fileName), element("span", "document-name", content.fileName));
      this.say(note, true);
      this.element.replaceChildren(bar, this.status);
      return;
    }
    this.frameMs = content.frameTime > 0 ? content.frameTime : DEFAULT_FRAME_MS;
    this.frames = content.numberOfFrames || this.displaySet.numberOfFrames || 0;
    const video = element("video", { className: "video-player", preload: "auto", playsInline: true });
    video.disablePictureInPicture = true;
    video.src = this.objectURL(blob);
    this.video = video;
    const play = textButton("▶", "Play", () => this.togglePlay());
    play.className = "video-play";
    const back = textButton("|◀", "Previous frame", () => this.step(-1));
    back.className = "video-step-back";
    const forward = textButton("▶|", "Next frame", () => this.step(1));
    forward.className = "video-step-forward";
    const time = element("span", "video-time");
    time.setAttribute("aria-live", "off");
    bar.append(play, back, forward, time, this.downloadButton(blob, content.fileName));
    const show = () => {
      if (this.closed) return;
      const duration = Number.isFinite(video.duration) ? video.duration : 0;
      const frame = Math.min(Math.floor(video.currentTime / (this.frameMs / 1000) + 1e-6) + 1, this.frames || Infinity);
      time.textContent = `${clock(video.currentTime)} / ${clock(duration)}` + (this.frames ? ` · frame ${frame}/${this.frames}` : "");
      time.dataset.currentTime = String(video.currentTime);
      const playing = !video.paused;
      play.textContent = playing ? "⏸" : "▶";
      play.setAttribute("aria-label", playing ? "Pause" : "Play");
      play.title = play.getAttribute("aria-label");
      play.setAttribute("aria-pressed", String(playing));
    };
    const announce = () => {
      if (this.closed) return;
      show();
      // The toolbar's cine button follows the video.
      const playing = !video.paused;
      this.viewport.cine.playing = playing;
      if (playing) this.viewport.element.dataset.cine = "playing";
      else delete this.viewport.element.dataset.cine;
      this.viewport.announce();
    };
    for (const type of ["timeupdate", "seeked", "loadedmetadata", "durationchange"]) video.addEventListener(type, show);
    for (const type of ["play", "pause", "ended"]) video.addEventListener(type, announce);
    video.addEventListener("error", () => {
      if (this.closed) return;
      this.video = null;
      this.say(note, true);
      this.element.dataset.state = "failed";
      bar.replaceChildren(this.downloadButton(blob, content.fileName), element("span", "document-name", content.fileName));
      this.element.replaceChildren(bar, this.status);
    });
    video.addEventListener("click", () => this.togglePlay());
    show();
    this.element.replaceChildren(video, bar);
  }

  // A frame back (-1) or forward (+1), paused.
  step(delta) {
    const video = this.video;
    if (!video) return;
    video.pause();
    const end = Number.isFinite(video.duration) ? video.duration : Infinity;
    video.currentTime = Math.min(Math.max(video.currentTime + (delta * this.frameMs) / 1000, 0), end);
  }
}
