// The study list (route "/"): filters, sortable columns, pages, expandable rows.
//
// The list's state lives in the URL with OHIF's parameter names (patientName, mrn,
// startDate, endDate, description, modalities, accession, sortBy, sortDirection,
// pageNumber, datasources). The worker's searchStudies (ohifpy.study_list) turns them
// into a QIDO query, sorts, pages, and answers with the canonical parameters, which
// go back into the URL and the form. The last query is kept as the "lastQuery"
// preference and comes back when the list is opened without parameters. Every value
// from DICOM is set with textContent, never parsed as markup.
//
// Data sources: the selector lists every source the worker has (the config's, the local
// files' once some are open, a dicomjson file's once loaded). With `url=` (OHIF's
// dicomjson list, `?datasources=dicomjson&url=...`) the worker loads that file first.

import { loadDicomJson } from "./local.js";
import { clearPreference, getPreference, setPreference } from "./preferences.js";

// [URL name of the sort key, column title, row field shown]
const COLUMNS = [
  ["patientName", "Patient name", "patientName"],
  ["mrn", "MRN", "patientId"],
  ["studyDate", "Study date", "displayDate"],
  ["description", "Description", "studyDescription"],
  ["modalities", "Modality", "modalities"],
  ["accession", "Accession", "accessionNumber"],
  ["instances", "Instances", "numberOfInstances"],
];
const TEXT_FILTERS = ["patientName", "mrn", "description", "accession"];
const LIST_PARAMS = [...TEXT_FILTERS, "startDate", "endDate", "modalities", "sortBy", "sortDirection", "pageNumber", "datasources"];
const MODALITIES = ["CR", "CT", "DX", "MG", "MR", "NM", "OT", "PT", "RF", "RTDOSE", "SEG", "SM", "SR", "US", "XA"];
const TYPING_DELAY_MS = 400;

function element(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function listParams(searchParams) {
  return Object.fromEntries(LIST_PARAMS.filter((name) => searchParams.get(name)).map((name) => [name, searchParams.get(name)]));
}

// A date input shows YYYY-MM-DD; the URL carries DICOM's YYYYMMDD.
const inputDate = (value = "") => value.replace(/^(\d{4})(\d{2})(\d{2})$/, "$1-$2-$3");

export function showStudyList({ worker, runtime, main, params }) {
  let current = listParams(params);
  // A saved query may name a source this tab no longer has (local files, a dicomjson file).
  let fromPreference = false;
  if (!Object.keys(current).length) {
    current = getPreference("lastQuery") ?? {};
    fromPreference = true;
  }
  const dicomJsonUrl = params.get("url") ?? "";
  let knownSources = null; // the worker's sources (init's answer and those added since)

  const inputs = Object.fromEntries(
    TEXT_FILTERS.map((name) => [name, element("input", { type: "search", name, autocomplete: "off" })]),
  );
  const startDate = element("input", { type: "date", name: "startDate" });
  const endDate = element("input", { type: "date", name: "endDate" });
  startDate.setAttribute("aria-label", "Study date from");
  endDate.setAttribute("aria-label", "Study date to");
  const modalityChoice = element("summary", { textContent: "Any" });
  const modalityBoxes = MODALITIES.map((value) => element("input", { type: "checkbox", value }));
  const modalities = element("details", { className: "modality-filter" }, [
    modalityChoice,
    element("div", { className: "modality-options" },
      modalityBoxes.map((box) => element("label", {}, [box, box.value]))),
  ]);
  const filterCells = {
    ...Object.fromEntries(TEXT_FILTERS.map((name) => [name, [inputs[name]]])),
    studyDate: [startDate, endDate],
    modalities: [modalities],
  };
  for (const [key, title] of COLUMNS) {
    inputs[key]?.setAttribute("aria-label", `Filter ${title.toLowerCase()}`);
  }

  const sortButtons = COLUMNS.map(([key, title]) => {
    const button = element("button", { type: "button", className: "sort", textContent: title });
    button.dataset.sortBy = key;
    button.addEventListener("click", () => {
      const ascending = current.sortBy === key && current.sortDirection !== "descending";
      search({ ...current, sortBy: key, sortDirection: ascending ? "descending" : "ascending", pageNumber: "" });
    });
    return button;
  });
  const table = element("table", { className: "studies" });
  const head = table.createTHead();
  head.append(
    element("tr", { className: "titles" }, sortButtons.map((button) => element("th", {}, [button]))),
    element("tr", { className: "filter-row" }, COLUMNS.map(([key]) => element("td", {}, filterCells[key] ?? []))),
  );
  const body = table.createTBody();

  const sourceSelect = element("select", { name: "datasources", hidden: true });
  sourceSelect.setAttribute("aria-label", "Data source");
  const count = element("span", { className: "count", role: "status" });
  const clear = element("button", { type: "button", className: "clear-filters", textContent: "Clear filters" });
  const previous = element("button", { type: "button", className: "previous-page", textContent: "‹ Previous" });
  const next = element("button", { type: "button", className: "next-page", textContent: "Next ›" });
  const pageLabel = element("span", { className: "page-number" });
  const pager = element("nav", { className: "pager", hidden: true }, [previous, pageLabel, next]);
  const sortNote = element("p", { className: "note sort-note", hidden: true });
  const list = element("section", { className: "study-list" }, [
    element("div", { className: "list-bar" }, [element("h1", { textContent: "Study list" }), sourceSelect, count, clear]),
    table,
    sortNote,
    pager,
  ]);
  main.append(list);

  function stateRow(text, kind) {
    const cell = element("td", { colSpan: COLUMNS.length, textContent: text });
    body.replaceChildren(element("tr", { className: `list-state ${kind}` }, [cell]));
  }

  function fillForm(values) {
    for (const name of TEXT_FILTERS) inputs[name].value = values[name] ?? "";
    startDate.value = inputDate(values.startDate);
    endDate.value = inputDate(values.endDate);
    const chosen = (values.modalities ?? "").split(",").filter(Boolean);
    for (const box of modalityBoxes) box.checked = chosen.includes(box.value);
    modalityChoice.textContent = chosen.length ? chosen.join(", ") : "Any";
    for (const button of sortButtons) {
      const sorted = button.dataset.sortBy === values.sortBy;
      button.parentElement.ariaSort = sorted ? values.sortDirection ?? "ascending" : "none";
    }
  }

  function formParams() {
    const values = Object.fromEntries(TEXT_FILTERS.map((name) => [name, inputs[name].value.trim()]));
    const modalityList = modalityBoxes.filter((box) => box.checked).map((box) => box.value).join(",");
    return { ...values, startDate: startDate.value, endDate: endDate.value, modalities: modalityList };
  }

  const withoutEmpty = (values) => Object.fromEntries(Object.entries(values).filter(([, value]) => value));
  // The list's parameters replace their old values; others (configUrl) stay.
  const urlOf = (values) => {
    const query = new URLSearchParams(location.search);
    for (const name of LIST_PARAMS) query.delete(name);
    for (const [name, value] of Object.entries(withoutEmpty(values))) query.set(name, value);
    return query.size ? `?${query}` : location.pathname;
  };

  let generation = 0;
  async function search(wanted) {
    const mine = ++generation;
    clearTimeout(typing);
    wanted = withoutEmpty(wanted);
    fillForm(wanted);
    stateRow("Loading studies…", "loading");
    count.textContent = "";
    pager.hidden = sortNote.hidden = true;
    let sources;
    try {
      sources = knownSources = await runtime;
      if (dicomJsonUrl && isDicomJson(sources, wanted.datasources)) {
        wanted.datasources = (await loadDicomJson(worker, sources, dicomJsonUrl)).dataSource;
      }
      chooseSource(sources, wanted);
      const answer = await worker.call("searchStudies", { params: wanted });
      if (mine !== generation) return;
      remember(answer.params);
      fillForm(current);
      showAnswer(answer, sources);
    } catch (error) {
      if (mine !== generation) return;
      remember(wanted);
      const what = sources && dicomJsonUrl && isDicomJson(sources, wanted.datasources) ? `The DICOM JSON file ${dicomJsonUrl} could not be loaded` : "The study list could not be loaded";
      stateRow(`${what}: ${error.message}`, "error");
    }
  }

  // `url=` is for a dicomjson source: the one named, or the worker's own if none is.
  function isDicomJson(sources, name) {
    const source = sources?.dataSources.find((s) => s.name === name);
    return !name || !source || source.kind === "dicomjson";
  }

  // What was asked goes into the URL and the lastQuery preference, answered or not.
  function remember(values) {
    current = values;
    history.replaceState(null, "", urlOf(current));
    if (Object.keys(current).length) setPreference("lastQuery", current);
  }

  // The selector appears with two sources or more; the URL wins over the preference.
  function chooseSource({ dataSources, defaultDataSourceName }, wanted) {
    const names = dataSources.map((source) => source.name);
    if (fromPreference && wanted.datasources && !names.includes(wanted.datasources)) delete wanted.datasources;
    fromPreference = false;
    if (dataSources.length < 2) return;
    if (!wanted.datasources && names.includes(getPreference("dataSource"))) wanted.datasources = getPreference("dataSource");
    if (sourceSelect.options.length !== dataSources.length) {
      sourceSelect.replaceChildren(...dataSources.map(({ name, friendlyName }) => element("option", { value: name, textContent: friendlyName })));
    }
    sourceSelect.value = wanted.datasources || defaultDataSourceName;
    sourceSelect.hidden = false;
  }

  function showAnswer({ studies, pageNumber, pageSize, offset, hasMore }, sources) {
    const sortable = pageNumber === 1 && !hasMore;
    for (const button of sortButtons) button.disabled = !sortable;
    const local = current.datasources && current.datasources === sources.localDataSourceName;
    if (!studies.length && local && !Object.values(formParams()).some(Boolean)) {
      // Local files live in the worker of the tab that opened them, not past a reload.
      stateRow("No local files are open in this tab (they are not kept after a reload): ", "empty");
      const again = element("a", { href: "local", className: "open-local-again", textContent: "open them again" });
      again.dataset.route = "";
      body.querySelector("td").append(again);
    } else if (!studies.length) {
      stateRow(pageNumber > 1 ? "No more studies." : "No studies match these filters.", "empty");
    } else {
      body.replaceChildren(...studies.map(studyRow));
    }
    const noun = studies.length === 1 ? "study" : "studies";
    count.textContent = sortable
      ? `${studies.length} ${noun}`
      : `Studies ${offset + Math.min(studies.length, 1)}–${offset + studies.length}${hasMore ? " of more" : ""}`;
    pager.hidden = sortable;
    previous.disabled = pageNumber === 1;
    next.disabled = !hasMore;
    pageLabel.textContent = `Page ${pageNumber}`;
    sortNote.hidden = sortable || !studies.length;
    sortNote.textContent = `More than ${pageSize} studies match: narrow the filters to sort the list.`;
  }

  function studyRow(study) {
    const cells = COLUMNS.map(([key, , field]) => element("td", { textContent: study[field] ?? "" }));
    cells[0].classList.add("patient");
    cells[COLUMNS.length - 1].classList.add("number");
    const tr = element("tr", { className: "study", tabIndex: 0 }, cells);
    tr.dataset.studyInstanceUid = study.studyInstanceUID;
    tr.ariaExpanded = "false";
    const toggle = () => (tr.ariaExpanded === "true" ? collapse(tr) : expand(tr, study));
    tr.addEventListener("click", toggle);
    tr.addEventListener("keydown", (event) => {
      if (event.target !== tr || (event.key !== "Enter" && event.key !== " ")) return;
      event.preventDefault();
      toggle();
    });
    return tr;
  }

  function collapse(tr) {
    tr.ariaExpanded = "false";
    if (tr.nextElementSibling?.classList.contains("series-panel")) tr.nextElementSibling.remove();
  }

  async function expand(tr, study) {
    tr.ariaExpanded = "true";
    // A dicomjson file's study opens on OHIF's route with the file's url, so a reload works.
    const href = dicomJsonUrl && isDicomJson(knownSources, current.datasources)
      ? `viewer/dicomjson?${new URLSearchParams({ url: dicomJsonUrl, StudyInstanceUIDs: study.studyInstanceUID })}`
      : `viewer?${new URLSearchParams(withoutEmpty({ StudyInstanceUIDs: study.studyInstanceUID, datasources: current.datasources }))}`;
    const open = element("a", { href, className: "open-study", textContent: "Open in viewer" });
    open.dataset.route = "";
    const content = element("div", { className: "series-content" }, [element("p", { className: "note", textContent: "Loading series…" })]);
    const panel = element("tr", { className: "series-panel" }, [element("td", { colSpan: COLUMNS.length }, [content, open])]);
    tr.after(panel);
    try {
      const { series } = await worker.call("searchSeries", { studyInstanceUID: study.studyInstanceUID, dataSource: current.datasources ?? "" });
      content.replaceChildren(seriesTable(series));
    } catch (error) {
      content.replaceChildren(element("p", { className: "note error", textContent: `The series could not be listed: ${error.message}` }));
    }
  }

  function seriesTable(series) {
    const table = element("table", { className: "series" });
    table.createTHead().append(element("tr", {}, ["Description", "Series", "Modality", "Instances"].map((title) => element("th", { textContent: title }))));
    table.createTBody().append(
      ...series.map((one) => {
        const tr = element("tr", {}, [one.seriesDescription, one.seriesNumber, one.modality, one.numberOfInstances].map((value) => element("td", { textContent: value ?? "" })));
        tr.dataset.seriesInstanceUid = one.seriesInstanceUID;
        return tr;
      }),
    );
    return table;
  }

  // Typing searches after a pause, Enter or a change (dates, modalities) at once.
  let typing;
  const searchForm = () => search({ ...current, ...formParams(), pageNumber: "" });
  for (const input of Object.values(inputs)) {
    input.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(searchForm, TYPING_DELAY_MS);
    });
    input.addEventListener("keydown", (event) => event.key === "Enter" && searchForm());
  }
  for (const input of [startDate, endDate, ...modalityBoxes]) input.addEventListener("change", searchForm);
  list.addEventListener("click", (event) => {
    if (!modalities.contains(event.target)) modalities.open = false;
  });
  sourceSelect.addEventListener("change", () => {
    setPreference("dataSource", sourceSelect.value);
    search({ ...current, datasources: sourceSelect.value, pageNumber: "" });
  });
  clear.addEventListener("click", () => {
    clearPreference("lastQuery");
    search({ datasources: current.datasources });
  });
  const turn = (step) => search({ ...current, pageNumber: String(Number(current.pageNumber ?? 1) + step) });
  previous.addEventListener("click", () => turn(-1));
  next.addEventListener("click", () => turn(1));

  search(current);
  return () => {
    generation++;
    clearTimeout(typing);
  };
}
