// The user's own files (OHIF's local mode): the /local page, and a drop of files or
// folders anywhere on any page.
//
// The page never reads a file: it hands the worker the File objects (a structured clone
// passes references, not bytes) with each one's path in the folder it came from, and
// Python (ohifpy.datasources.local_files) reads what it needs, when it needs it. ZIPs,
// DICOMDIRs and non-DICOM files are sorted out there. Nothing is uploaded and nothing is
// kept: the files live in the worker for the tab's life, which is why every move in the
// app after opening them is an in-app navigation (history.pushState, see app.js).
//
// Opening ends with a summary in the notice under the header (it stays there through the
// navigation that follows): one study opens in the viewer, several in the study list.

import { element } from "./dom.js";

// ------------------------------------------------------------------ the sources the page knows

// Sources the worker adds as the user opens things (local files, a dicomjson file) join
// the ones init answered, so the study list's selector and the viewer's buttons know them.
export function knownSource(sources, info) {
  const known = sources.dataSources.find((source) => source.name === info.name);
  if (known) return known;
  sources.dataSources.push(info);
  return info;
}

// An OHIF dicomjson file (/viewer/dicomjson?url=, the study list's url=), loaded into the
// worker once per tab: url -> Promise of {dataSource, studyInstanceUIDs}.
const dicomJsonLoads = new Map();

export function loadDicomJson(worker, sources, url) {
  if (!dicomJsonLoads.has(url)) {
    const loading = worker.call("openDicomJson", { url }).then((answer) => {
      knownSource(sources, answer.source);
      return answer;
    });
    loading.catch(() => dicomJsonLoads.delete(url)); // tried again next time
    dicomJsonLoads.set(url, loading);
  }
  return dicomJsonLoads.get(url);
}

// ------------------------------------------------------------------ collecting files

const relative = (path) => path.replace(/^\/+/, "");

// A directory entry's children: readEntries answers in batches until it answers none.
function readDirectory(directory) {
  const reader = directory.createReader();
  const children = [];
  return new Promise((resolve, reject) => {
    const next = () =>
      reader.readEntries((batch) => {
        if (!batch.length) return resolve(children);
        children.push(...batch);
        next();
      }, reject);
    next();
  });
}

const fileOfEntry = (entry) => new Promise((resolve, reject) => entry.file(resolve, reject));

async function walkEntry(entry, found, problems) {
  try {
    if (entry.isFile) {
      found.push({ file: await fileOfEntry(entry), path: relative(entry.fullPath) });
    } else if (entry.isDirectory) {
      for (const child of await readDirectory(entry)) await walkEntry(child, found, problems);
    }
  } catch (error) {
    problems.push({ name: relative(entry.fullPath), reason: `could not be read: ${error.message ?? error}` });
  }
}

// What a drop holds, as [{file, path}]. The DataTransfer's items are only readable during
// the drop event, so the entries are taken now and walked afterwards. A drop made by a
// script (no file-system entries) falls back to the plain files.
export function droppedFiles(dataTransfer) {
  const items = [...(dataTransfer.items ?? [])].filter((item) => item.kind === "file");
  const entries = items.map((item) => item.webkitGetAsEntry?.() ?? null);
  const files = items.length ? items.map((item) => item.getAsFile()) : [...dataTransfer.files];
  return (async () => {
    const found = [];
    const problems = [];
    for (const [index, file] of files.entries()) {
      const entry = entries[index];
      if (entry?.isDirectory) await walkEntry(entry, found, problems);
      else if (file) found.push({ file, path: entry ? relative(entry.fullPath) : file.name });
      else if (entry) await walkEntry(entry, found, problems);
    }
    return { files: found, problems };
  })();
}

// Files chosen in an <input type=file>: a folder input gives each one's path in the folder.
export function inputFiles(input) {
  return [...input.files].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
}

// A folder chosen with the File System Access API (Chromium), walked the same way.
async function pickedDirectory(directory) {
  const found = [];
  const problems = [];
  async function walk(handle, path) {
    for await (const child of handle.values()) {
      const childPath = `${path}/${child.name}`;
      try {
        if (child.kind === "file") found.push({ file: await child.getFile(), path: childPath });
        else await walk(child, childPath);
      } catch (error) {
        problems.push({ name: childPath, reason: `could not be read: ${error.message ?? error}` });
      }
    }
  }
  await walk(directory, directory.name);
  return { files: found, problems };
}

// ------------------------------------------------------------------ the drop anywhere

// While files are dragged over the window a full-window overlay says what a drop does; it
// takes the drop (so a viewport or a link under the pointer never sees it). Drags of
// anything but files (a series dragged onto a viewport) pass through untouched.
export function installFileDrop(onDrop) {
  const overlay = element("div", "drop-overlay");
  overlay.append(element("p", "", "Drop DICOM files or folders to open them"));
  overlay.hidden = true;
  document.body.append(overlay);
  const carriesFiles = (event) => event.dataTransfer?.types?.includes("Files");
  const hide = () => (overlay.hidden = true);

  document.addEventListener("dragenter", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    overlay.hidden = false;
  });
  for (const target of [document, overlay]) {
    target.addEventListener("dragover", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      overlay.hidden = false;
    });
  }
  // The overlay covers the window: leaving it is leaving the window (its children let
  // the pointer through, so moving over them is no leave).
  overlay.addEventListener("dragleave", hide);
  document.addEventListener("dragend", hide);
  document.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    hide();
    onDrop(droppedFiles(event.dataTransfer));
  });
}

// ------------------------------------------------------------------ reading and the summary

const plural = (count, one, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

// Opening local files, from any page: reads them in the worker, says how it went in the
// notice, then moves to the viewer (one study) or the study list (several).
export function createLocalFiles({ worker, runtime, notice, navigate }) {
  let reading = 0; // the newest open; an older one's answer still adds its files but moves nowhere

  function say(...children) {
    notice.replaceChildren(...children);
    notice.hidden = children.length === 0;
  }

  function closeButton() {
    const close = element("button", "notice-close", "×");
    close.type = "button";
    close.title = "Close";
    close.setAttribute("aria-label", "Close");
    close.addEventListener("click", () => say());
    return close;
  }

  // The worker words the summary (ohifpy.viewer.presenters); the page lays it out.
  function summary(answer) {
    const failed = answer.failed;
    const box = element("div", "local-summary");
    box.classList.toggle("error", answer.studyInstanceUIDs.length === 0 || failed.length > 0);
    box.append(element("p", "local-summary-text", answer.summary));
    if (failed.length) {
      const list = element("ul", "local-failed");
      list.setAttribute("aria-label", "Files that could not be read");
      for (const { name, reason } of failed) {
        const item = element("li");
        item.append(element("span", "file-name", name), element("span", "file-reason", `: ${reason}`));
        list.append(item);
      }
      box.append(list);
    }
    if (answer.skipped.length) {
      const details = element("details", "local-skipped");
      details.append(element("summary", "", "Files that are not DICOM"), element("p", "", answer.skipped.join(", ")));
      box.append(details);
    }
    return box;
  }

  async function open(collecting) {
    const mine = ++reading;
    say(element("p", "local-status", "Collecting the files…"));
    let files, problems;
    try {
      ({ files, problems } = await collecting);
    } catch (error) {
      say(element("p", "local-status error", `The files could not be opened: ${error.message ?? error}`), closeButton());
      return;
    }
    if (!files.length && !problems.length) {
      say(element("p", "local-status", "No files to open."), closeButton());
      return;
    }
    const where = location.href;
    const status = element("p", "local-status", `Reading ${plural(files.length, "file")}…`);
    const progress = element("progress", "local-progress");
    say(status, progress);
    const stop = worker.on("localFilesProgress", ({ read, total }) => {
      if (mine !== reading) return;
      progress.max = total;
      progress.value = read;
      status.textContent = `Reading ${plural(total, "file")}… ${read} read`;
    });
    let answer;
    try {
      const sources = await runtime;
      answer = await worker.call("addLocalFiles", { files, problems });
      knownSource(sources, answer.source);
    } catch (error) {
      if (mine === reading) say(element("p", "local-status error", `The files could not be read: ${error.message}`), closeButton());
      return;
    } finally {
      stop();
    }
    if (mine !== reading) return;
    say(summary(answer), closeButton());
    if (location.href !== where) return; // the user went elsewhere meanwhile
    const studies = answer.studyInstanceUIDs;
    if (studies.length === 1) {
      navigate(`viewer?${new URLSearchParams({ StudyInstanceUIDs: studies[0], datasources: answer.dataSource })}`);
    } else if (studies.length > 1) {
      navigate(`./?${new URLSearchParams({ datasources: answer.dataSource })}`);
    }
  }

  // ---------------------------------------------------------------- the /local page

  function showPage(main) {
    const page = element("section", "local-page");
    const zone = element("div", "drop-zone");
    const filesInput = Object.assign(element("input", "open-files-input"), { type: "file", multiple: true, hidden: true });
    const folderInput = Object.assign(element("input", "open-folder-input"), { type: "file", multiple: true, hidden: true });
    folderInput.webkitdirectory = true;
    filesInput.setAttribute("aria-label", "Open files");
    folderInput.setAttribute("aria-label", "Open folder");
    const openFiles = element("button", "open-files", "Open files");
    const openFolder = element("button", "open-folder", "Open folder");
    openFiles.type = openFolder.type = "button";
    openFiles.addEventListener("click", () => filesInput.click());
    openFolder.addEventListener("click", async () => {
      if (!self.showDirectoryPicker) return folderInput.click();
      let directory;
      try {
        directory = await self.showDirectoryPicker({ id: "ohifpy-local", mode: "read" });
      } catch (error) {
        if (error.name !== "AbortError") folderInput.click(); // not allowed here: the input
        return;
      }
      open(pickedDirectory(directory));
    });
    for (const input of [filesInput, folderInput]) {
      input.addEventListener("change", () => {
        const chosen = inputFiles(input);
        input.value = ""; // the same choice again is a change again
        if (chosen.length) open(Promise.resolve({ files: chosen, problems: [] }));
      });
    }
    const buttons = element("div", "local-buttons");
    buttons.append(openFiles, openFolder, filesInput, folderInput);
    zone.append(
      element("p", "drop-zone-title", "Drop DICOM files or folders here"),
      element("p", "note", "or choose them: files, a folder, a ZIP or a DICOMDIR set"),
      buttons,
    );
    page.append(
      element("h1", "", "Open local files"),
      zone,
      element("p", "note local-privacy",
        "The files are read in this tab only: nothing is uploaded, and nothing is kept once the tab is closed or reloaded."),
    );
    main.append(page);
    return () => {};
  }

  return { open, showPage };
}
