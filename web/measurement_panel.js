// The measurement side panel (its tools are the toolbar's measurement menu): the
// measurements listed per series (label edited in place, tool, values as the worker
// answered them, jump to the image), and the exports: CSV, DICOM SR stored on the
// server (or, for a source that cannot store, such as the user's own files, downloaded
// as a .dcm file), and the tag browser of the current image. Strings go in as
// textContent only.

import { downloadBlob, element } from "./dom.js";
import { valueTexts } from "./measurements.js";
import { openTagBrowser } from "./tag_browser.js";

function button(text, className, onClick) {
  const node = element("button", className, text);
  node.type = "button";
  node.addEventListener("click", onClick);
  return node;
}

// tools, quantities: the worker's tables (tables.tools, whose labels name each row's tool;
// tables.quantities, the value labels).
export function createMeasurementPanel({ worker, store, tools, quantities, getActiveViewport, jumpTo }) {
  const panel = element("aside", "measurement-panel");
  panel.setAttribute("aria-label", "Measurements");
  const toolLabels = Object.fromEntries(tools.map(({ name, label }) => [name, label]));
  let displaySets = [];

  // ------------------------------------------------------------ list and actions
  const list = element("div", "measurement-list");
  const message = element("p", "measure-message");
  message.setAttribute("role", "status");
  const exportCsv = button("Export CSV", "export-csv", () => run(download));
  const saveReport = button("Save as DICOM SR", "save-report", () => run(save));
  const tags = button("Tags", "open-tags", () => {
    const viewport = getActiveViewport();
    if (viewport?.displaySet) openTagBrowser(worker, viewport);
  });
  const actions = element("div", "measure-actions");
  actions.append(exportCsv, saveReport, tags);
  panel.append(element("h2", "", "Measurements"), list, actions, message);

  function say(text, failed = false) {
    message.textContent = text;
    message.classList.toggle("error", failed);
  }

  async function run(action) {
    say("");
    try {
      await action();
    } catch (error) {
      say(error.message, true);
    }
  }

  async function download() {
    const { csv } = await worker.call("exportMeasurementsCsv", { measurements: store.list() });
    downloadBlob(new Blob([csv], { type: "text/csv" }), "measurements.csv");
  }

  // A source with downloadReports (the user's own files) answers the report as a Part 10
  // file to download; others store it (STOW-RS).
  let downloadsReports = false;
  let canSave = true; // false for a source that can neither store nor download (a dicomjson file)
  async function save() {
    saveReport.disabled = true;
    say(downloadsReports ? "Writing the report…" : "Saving the report…");
    try {
      const { reports, downloads = [] } = await worker.call("saveReport", { measurements: store.list() });
      for (const { fileName, data } of downloads) downloadBlob(new Blob([data], { type: "application/dicom" }), fileName);
      const count = reports.reduce((sum, r) => sum + r.numMeasurements, 0);
      const what = `${count} measurement${count === 1 ? "" : "s"}`;
      say(downloads.length
        ? `Downloaded ${what} as DICOM SR: ${downloads.map((d) => d.fileName).join(", ")}.`
        : `Saved ${what} as DICOM SR.`);
    } catch (error) {
      throw new Error(`The report was not ${downloadsReports ? "written" : "saved"}: ${error.message}`);
    } finally {
      saveReport.disabled = !canSave || store.list().length === 0;
    }
  }

  function row(m) {
    const item = element("li", "measurement-row");
    item.dataset.uid = m.uid;
    item.dataset.tool = m.tool;
    item.classList.toggle("selected", m.uid === store.selectedUID);
    const label = element("input", "measurement-label");
    label.value = m.label;
    label.placeholder = "(no label)";
    label.setAttribute("aria-label", "Label");
    label.addEventListener("change", () => store.replace({ ...store.get(m.uid), label: label.value }));
    label.addEventListener("keydown", (event) => event.key === "Enter" && label.blur());
    const where = m.imageIndex == null ? "not open" : `image ${m.imageIndex + 1}`;
    const head = element("div", "measurement-head");
    const tool = element("span", "measurement-tool", toolLabels[m.tool] ?? m.tool);
    head.append(label, tool, element("span", "measurement-where", where));
    const values = element("div", "measurement-values");
    for (const { name, text } of valueTexts(m, quantities)) {
      const value = element("span", "measurement-value", text);
      value.dataset.name = name;
      values.append(value);
    }
    if (m.text) values.append(element("span", "measurement-value arrow", m.text));
    for (const note of m.notes ?? []) values.append(element("span", "measurement-note", note));
    const jump = button("Show", "jump", () => {
      store.select(m.uid);
      jumpTo(m.displaySetUID, m.imageIndex);
    });
    jump.disabled = m.displaySetUID == null;
    item.append(head, values, jump);
    item.addEventListener("click", (event) => {
      if (!event.target.closest("input, button")) store.select(m.uid);
    });
    return item;
  }

  // One section per series, in the order of the display sets.
  function render() {
    const bySeries = new Map();
    for (const m of store.list()) {
      if (!bySeries.has(m.seriesInstanceUID)) bySeries.set(m.seriesInstanceUID, []);
      bySeries.get(m.seriesInstanceUID).push(m);
    }
    const order = displaySets.map((d) => d.seriesInstanceUID);
    const series = [...bySeries.keys()].sort((a, b) => (order.indexOf(a) + 1 || 1e9) - (order.indexOf(b) + 1 || 1e9));
    list.replaceChildren(
      ...series.map((uid) => {
        const section = element("section", "measurement-series");
        section.dataset.seriesUid = uid;
        const shown = displaySets.find((d) => d.seriesInstanceUID === uid);
        const title = shown ? `${shown.seriesNumber ?? ""} ${shown.modality} ${shown.seriesDescription}`.trim() : uid;
        const rows = element("ol");
        rows.append(...bySeries.get(uid).map(row));
        section.append(element("h3", "", title), rows);
        return section;
      }),
    );
    if (series.length === 0) list.append(element("p", "note", "No measurements: choose a tool and draw on the image."));
    exportCsv.disabled = store.list().length === 0;
    saveReport.disabled = !canSave || store.list().length === 0;
  }
  store.addEventListener("change", render);
  render();

  return {
    element: panel,
    say,
    // The viewer's data source ({downloadReports, ...} as init answered it, or undefined).
    setDataSource(source) {
      downloadsReports = Boolean(source?.downloadReports);
      canSave = downloadsReports || source?.canStore !== false;
      saveReport.textContent = downloadsReports ? "Download DICOM SR" : "Save as DICOM SR";
      saveReport.title = canSave ? "" : `${source.friendlyName || source.name} cannot store reports`;
      render();
    },
    setDisplaySets(sets) {
      displaySets = sets;
      render();
    },
    destroy() {
      store.removeEventListener("change", render);
      panel.remove();
    },
  };
}
