// The study list: a QIDO-RS search form and one row per study. Every value from DICOM is
// set with textContent, never parsed as markup.

const FILTERS = [
  ["patientName", "Patient name"],
  ["patientId", "MRN"],
  ["studyDescription", "Description"],
  ["modalitiesInStudy", "Modality"],
  ["studyDateFrom", "From (YYYYMMDD)"],
  ["studyDateTo", "To (YYYYMMDD)"],
];
const COLUMNS = [
  ["patientName", "Patient"],
  ["patientId", "MRN"],
  ["studyDate", "Date"],
  ["studyDescription", "Description"],
  ["modalities", "Modality"],
  ["accessionNumber", "Accession"],
  ["numberOfInstances", "Instances"],
];

function element(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

export function showStudyList({ worker, runtime, main, params }) {
  const form = element("form", { className: "filters" });
  for (const [name, label] of FILTERS) {
    const input = element("input", { name, value: params.get(name) ?? "", autocomplete: "off" });
    form.append(element("label", {}, [label, input]));
  }
  form.append(element("button", { type: "submit", textContent: "Search" }));
  const message = element("p", { className: "note", textContent: "Loading studies…" });
  const table = element("table", { className: "studies" });
  table.createTHead().append(element("tr", {}, COLUMNS.map(([, title]) => element("th", { textContent: title }))));
  const body = table.createTBody();
  main.append(form, message, table);

  let generation = 0;
  async function search() {
    const mine = ++generation;
    const filters = Object.fromEntries(
      [...new FormData(form)].map(([key, value]) => [key, String(value).trim()]).filter(([, value]) => value),
    );
    message.textContent = "Searching…";
    try {
      await runtime;
      const { studies } = await worker.call("searchStudies", { filters });
      if (mine !== generation) return;
      body.replaceChildren(...studies.map(row));
      message.textContent = `${studies.length} stud${studies.length === 1 ? "y" : "ies"}`;
    } catch (error) {
      if (mine !== generation) return;
      body.replaceChildren();
      message.textContent = `Search failed: ${error.message}`;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams(
      [...new FormData(form)].filter(([, value]) => String(value).trim()),
    );
    history.replaceState(null, "", query.size ? `?${query}` : location.pathname);
    search();
  });
  search();
  return () => {
    generation++;
  };
}

function row(study) {
  const href = `viewer?StudyInstanceUIDs=${encodeURIComponent(study.studyInstanceUID)}`;
  const cells = COLUMNS.map(([key], index) => {
    const text = study[key] == null ? "" : String(study[key]);
    if (index > 0) return element("td", { textContent: text });
    const link = element("a", { href, textContent: text || "(no name)" });
    link.dataset.route = "";
    return element("td", {}, [link]);
  });
  const tr = element("tr", {}, cells);
  tr.dataset.studyInstanceUid = study.studyInstanceUID;
  return tr;
}
