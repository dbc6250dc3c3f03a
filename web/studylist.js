// The study list (route "/"): filters, sortable columns, pages, expandable rows.
//
// The list's state lives in the URL with OHIF's parameter names (patientName, mrn,
// startDate, endDate, description, modalities, accession, sortBy, sortDirection,
// pageNumber, datasources). The worker's searchStudies (ohifpy.study_list) turns them
// into a QIDO query, sorts, pages, and answers with the canonical parameters, which
// go back into the URL and the form. The columns, their filters, the parameter names and
// the modality choices are the worker's too (init's tables.studyList). The last query is kept as the "lastQuery"
// preference and comes back when the list is opened without parameters. Names and dates
// show as readers read them (the rows' *Text keys; dates in the config's format,
// display_format.js), in one line a cell with the whole text in its title, wrapped once
// the row is expanded. Every value from DICOM is set with textContent, never parsed as
// markup.
//
// Data sources: the selector lists every source the worker has (the config's, the local
// files' once some are open, a dicomjson file's once loaded). With `url=` (OHIF's
// dicomjson list, `?datasources=dicomjson&url=...`) the worker loads that file first.

import { studyDate } from "./display_format.js";
import { element } from "./dom.js";
import { loadDicomJson } from "./local.js";
import { clearPreference, getPreference, setPreference } from "./preferences.js";

const TYPING_DELAY_MS = 400;

// A date input shows YYYY-MM-DD; the URL carries DICOM's YYYYMMDD.
const inputDate = (value = "") => value.replace(/^(\d{4})(\d{2})(\d{2})$/, "$1-$2-$3");

// A cell's content by its column's field where readers read it otherwise than DICOM
// writes it (the raw field stays the sort key).
const CELL_CONTENT = {
  patientName: (study) => study.patientNameText,
  displayDate: (study) => studyDate(study, { withTime: true }),
};

// The list's state shown in its body: loading, an error, no match.
function stateRow(text, kind, columns) {
  return element("tr", { className: `list-state ${kind}` }, element("td", { colSpan: columns, textContent: text }));
}

// ------------------------------------------------------------------ column filters
// Each column's filter (ohifpy.study_list.Column: its `filter` kind and URL `params`):
// { controls, fill(values) from the list's parameters, read() them back }. `typed` runs
// after a keystroke (the list searches after a pause), `changed` at once.

function textFilter({ title, params: [name] }, { typed, changed }) {
  const input = element("input", { type: "search", name, autocomplete: "off" });
  input.setAttribute("aria-label", `Filter ${title.toLowerCase()}`);
  input.addEventListener("input", typed);
  input.addEventListener("keydown", (event) => event.key === "Enter" && changed());
  return {
    controls: [input],
    fill: (values) => (input.value = values[name] ?? ""),
    read: () => ({ [name]: input.value.trim() }),
  };
}

function dateRangeFilter({ title, params }, { changed }) {
  const inputs = params.map((name) => element("input", { type: "date", name }));
  inputs[0].setAttribute("aria-label", `${title} from`);
  inputs[1].setAttribute("aria-label", `${title} to`);
  for (const input of inputs) input.addEventListener("change", changed);
  return {
    controls: inputs,
    fill: (values) => params.forEach((name, i) => (inputs[i].value = inputDate(values[name]))),
    read: () => Object.fromEntries(params.map((name, i) => [name, inputs[i].value])),
  };
}

// A multi-select of `choices` (tables.studyList.modalities); a click elsewhere in
// `container`, or Escape, closes it.
function modalityFilter({ title, params: [name] }, { changed, choices, container }) {
  const summary = element("summary", {}, "Any");
  const boxes = choices.map((value) => element("input", { type: "checkbox", value }));
  for (const box of boxes) box.addEventListener("change", changed);
  const options = element("div", "modality-options", ...boxes.map((box) => element("label", {}, box, box.value)));
  options.setAttribute("role", "group");
  options.setAttribute("aria-label", title);
  const details = element("details", "modality-filter", summary, options);
  container.addEventListener("click", (event) => {
    if (!details.contains(event.target)) details.open = false;
  });
  details.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !details.open) return;
    details.open = false;
    summary.focus();
  });
  return {
    controls: [details],
    fill(values) {
      const chosen = (values[name] ?? "").split(",").filter(Boolean);
      for (const box of boxes) box.checked = chosen.includes(box.value);
      summary.textContent = chosen.length ? chosen.join(", ") : "Any";
      summary.setAttribute("aria-label", `${title}: ${summary.textContent}`);
    },
    read: () => ({ [name]: boxes.filter((box) => box.checked).map((box) => box.value).join(",") }),
  };
}

const FILTERS = { text: textFilter, dateRange: dateRangeFilter, modalities: modalityFilter };

// ------------------------------------------------------------------ the page

// Until the worker is up the list is its loading state: its columns, parameters and
// filters are the worker's tables (init's answer, tables.studyList).
export function showStudyList(context) {
  const waiting = element("table", "studies");
  waiting.createTBody().append(stateRow("Loading studies…", "loading", 1));
  context.main.append(waiting);
  let leave = () => {};
  let left = false;
  context.runtime.then(
    (sources) => {
      if (left) return;
      waiting.remove();
      leave = showList(context, sources);
    },
    (error) => waiting.tBodies[0].replaceChildren(stateRow(`The study list could not be loaded: ${error.message}`, "error", 1)),
  );
  return () => {
    left = true;
    leave();
  };
}

// sources: init's answer (the data sources, with those added since, and the tables).
function showList({ worker, main, params }, sources) {
  const { columns, seriesColumns, params: listParamNames, modalities: modalityChoices, sortDirections } = sources.tables.studyList;
  const [ascending, descending] = sortDirections;
  const listParams = (searchParams) =>
    Object.fromEntries(listParamNames.filter((name) => searchParams.get(name)).map((name) => [name, searchParams.get(name)]));
  // Where a query for `name` goes (init's queryServer: the QIDO root), undefined for a source
  // this tab does not have.
  const serverOf = (name) => sources.dataSources.find((s) => s.name === (name || sources.defaultDataSourceName))?.queryServer;
  let current = listParams(params);
  // The saved query (typed search terms may name patients) comes back only for the server it
  // was typed for: a source gone, renamed or pointed elsewhere since gets none of it.
  if (!Object.keys(current).length) {
    const { queryServer, ...saved } = getPreference("lastQuery") ?? {};
    current = queryServer !== undefined && queryServer === serverOf(saved.datasources) ? saved : {};
    // Its source stays in the URL only where the list would otherwise pick another one.
    const picked = getPreference("dataSource") ?? sources.defaultDataSourceName;
    if (current.datasources === sources.defaultDataSourceName && picked === current.datasources) delete current.datasources;
  }
  const dicomJsonUrl = params.get("url") ?? "";

  const list = element("section", "study-list");
  // Typing searches after a pause, Enter or a change (dates, modalities) at once.
  let typing;
  const searchForm = () => search({ ...current, ...formParams(), pageNumber: "" });
  const filterOptions = {
    typed: () => {
      clearTimeout(typing);
      typing = setTimeout(searchForm, TYPING_DELAY_MS);
    },
    changed: searchForm,
    choices: modalityChoices,
    container: list,
  };
  const filters = new Map(columns.filter((c) => FILTERS[c.filter]).map((c) => [c.name, FILTERS[c.filter](c, filterOptions)]));

  const sortButtons = columns.map(({ name, title }) => {
    const button = element("button", { type: "button", className: "sort" }, title);
    button.dataset.sortBy = name;
    button.addEventListener("click", () => {
      const again = current.sortBy === name && current.sortDirection !== descending;
      search({ ...current, sortBy: name, sortDirection: again ? descending : ascending, pageNumber: "" });
    });
    return button;
  });
  const table = element("table", "studies");
  table.createTHead().append(
    element("tr", "titles", ...sortButtons.map((button) => element("th", {}, button))),
    element("tr", "filter-row", ...columns.map(({ name }) => element("td", {}, ...(filters.get(name)?.controls ?? [])))),
  );
  const body = table.createTBody();

  const sourceSelect = element("select", { name: "datasources", hidden: true });
  sourceSelect.setAttribute("aria-label", "Data source");
  const count = element("span", { className: "count", role: "status" });
  const clear = element("button", { type: "button", className: "clear-filters" }, "Clear filters");
  const previous = element("button", { type: "button", className: "previous-page" }, "‹ Previous");
  const next = element("button", { type: "button", className: "next-page" }, "Next ›");
  const pageLabel = element("span", "page-number");
  const pager = element("nav", { className: "pager", hidden: true }, previous, pageLabel, next);
  const sortNote = element("p", { className: "note sort-note", hidden: true });
  list.append(element("div", "list-bar", element("h1", {}, "Study list"), sourceSelect, count, clear), table, sortNote, pager);
  main.append(list);

  const showState = (text, kind) => body.replaceChildren(stateRow(text, kind, columns.length));

  function fillForm(values) {
    for (const filter of filters.values()) filter.fill(values);
    for (const button of sortButtons) {
      const sorted = button.dataset.sortBy === values.sortBy;
      button.parentElement.ariaSort = sorted ? values.sortDirection ?? ascending : "none";
    }
  }

  const formParams = () => Object.assign({}, ...[...filters.values()].map((filter) => filter.read()));

  const withoutEmpty = (values) => Object.fromEntries(Object.entries(values).filter(([, value]) => value));
  // The list's parameters replace their old values; others (configUrl) stay.
  const urlOf = (values) => {
    const query = new URLSearchParams(location.search);
    for (const name of listParamNames) query.delete(name);
    for (const [name, value] of Object.entries(withoutEmpty(values))) query.set(name, value);
    return query.size ? `?${query}` : location.pathname;
  };

  let generation = 0;
  async function search(wanted) {
    const mine = ++generation;
    clearTimeout(typing);
    wanted = withoutEmpty(wanted);
    fillForm(wanted);
    showState("Loading studies…", "loading");
    count.textContent = "";
    pager.hidden = sortNote.hidden = true;
    try {
      if (dicomJsonUrl && isDicomJson(sources, wanted.datasources)) {
        wanted.datasources = (await loadDicomJson(worker, sources, dicomJsonUrl)).dataSource;
      }
      chooseSource(sources, wanted);
      const answer = await worker.call("searchStudies", { params: wanted });
      if (mine !== generation) return;
      remember(answer.params);
      fillForm(current);
      showAnswer(answer);
    } catch (error) {
      if (mine !== generation) return;
      remember(wanted);
      const what = dicomJsonUrl && isDicomJson(sources, wanted.datasources) ? `The DICOM JSON file ${dicomJsonUrl} could not be loaded` : "The study list could not be loaded";
      showState(`${what}: ${error.message} `, "error");
      // A busy or restarting server answers a moment later: the same search again.
      const again = element("button", { type: "button", className: "retry" }, "Try again");
      again.addEventListener("click", () => search(wanted));
      body.querySelector("td").append(again);
    }
  }

  // `url=` is for a dicomjson source: the one named, or the worker's own if none is.
  function isDicomJson(sources, name) {
    const source = sources.dataSources.find((s) => s.name === name);
    return !name || !source || source.kind === "dicomjson";
  }

  // What was asked goes into the URL and the lastQuery preference, answered or not.
  function remember(values) {
    current = values;
    history.replaceState(null, "", urlOf(current));
    if (!Object.keys(current).length) return;
    // Saved with its source named, so a later default or chosen source does not receive it.
    const datasources = current.datasources || sources.defaultDataSourceName;
    setPreference("lastQuery", { ...current, datasources, queryServer: serverOf(datasources) ?? "" });
  }

  // The selector appears with two sources or more; the URL wins over the preference.
  function chooseSource({ dataSources, defaultDataSourceName }, wanted) {
    const names = dataSources.map((source) => source.name);
    if (dataSources.length < 2) return;
    if (!wanted.datasources && names.includes(getPreference("dataSource"))) wanted.datasources = getPreference("dataSource");
    if (sourceSelect.options.length !== dataSources.length) {
      sourceSelect.replaceChildren(...dataSources.map(({ name, friendlyName }) => element("option", { value: name }, friendlyName)));
    }
    sourceSelect.value = wanted.datasources || defaultDataSourceName;
    sourceSelect.hidden = false;
  }

  function showAnswer({ studies, pageNumber, pageSize, offset, hasMore }) {
    const sortable = pageNumber === 1 && !hasMore;
    for (const button of sortButtons) button.disabled = !sortable;
    const local = current.datasources && current.datasources === sources.localDataSourceName;
    if (!studies.length && local && !Object.values(formParams()).some(Boolean)) {
      // Local files live in the worker of the tab that opened them, not past a reload.
      showState("No local files are open in this tab (they are not kept after a reload): ", "empty");
      const again = element("a", { href: "local", className: "open-local-again" }, "open them again");
      again.dataset.route = "";
      body.querySelector("td").append(again);
    } else if (!studies.length) {
      showState(pageNumber > 1 ? "No more studies." : "No studies match these filters.", "empty");
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

  // A click anywhere on a row opens or closes it; the keyboard does so with the disclosure
  // button in its first cell (OHIF's chevron), which says whether it is open.
  function studyRow(study) {
    const cells = columns.map(({ field }) => {
      const td = element("td", {}, CELL_CONTENT[field]?.(study) ?? study[field]);
      td.title = td.textContent; // the whole text of a cut one
      return td;
    });
    const disclose = element("button", { type: "button", className: "disclose" });
    disclose.ariaExpanded = "false";
    const about = cells.slice(0, 3).map((td) => td.textContent).filter(Boolean).join(" · ");
    disclose.setAttribute("aria-label", `Series of ${about || "this study"}`);
    cells[0].prepend(disclose);
    cells[0].classList.add("patient");
    cells.at(-1).classList.add("number");
    const tr = element("tr", "study", ...cells);
    tr.dataset.studyInstanceUid = study.studyInstanceUID;
    tr.addEventListener("click", () => (disclose.ariaExpanded === "true" ? collapse(tr) : expand(tr, study)));
    return tr;
  }

  function setExpanded(tr, expanded) {
    tr.classList.toggle("expanded", expanded);
    tr.querySelector(".disclose").ariaExpanded = String(expanded);
  }

  function collapse(tr) {
    setExpanded(tr, false);
    if (tr.nextElementSibling?.classList.contains("series-panel")) tr.nextElementSibling.remove();
  }

  async function expand(tr, study) {
    setExpanded(tr, true);
    // A dicomjson file's study opens on OHIF's route with the file's url, so a reload works.
    const href = dicomJsonUrl && isDicomJson(sources, current.datasources)
      ? `viewer/dicomjson?${new URLSearchParams({ url: dicomJsonUrl, StudyInstanceUIDs: study.studyInstanceUID })}`
      : `viewer?${new URLSearchParams(withoutEmpty({ StudyInstanceUIDs: study.studyInstanceUID, datasources: current.datasources }))}`;
    const open = element("a", { href, className: "open-study" }, "Open in viewer");
    open.dataset.route = "";
    const content = element("div", "series-content", element("p", "note", "Loading series…"));
    const panel = element("tr", "series-panel", element("td", { colSpan: columns.length }, content, open));
    tr.after(panel);
    try {
      const { series } = await worker.call("searchSeries", { studyInstanceUID: study.studyInstanceUID, dataSource: current.datasources ?? "" });
      content.replaceChildren(seriesTable(series));
    } catch (error) {
      content.replaceChildren(element("p", "note error", `The series could not be listed: ${error.message}`));
    }
  }

  function seriesTable(series) {
    const table = element("table", "series");
    const shown = seriesColumns.filter(({ field, optional }) => !optional || series.some((one) => one[field]));
    table.createTHead().append(element("tr", {}, ...shown.map(({ title }) => element("th", {}, title))));
    table.createTBody().append(
      ...series.map((one) => {
        const tr = element("tr", {}, ...shown.map(({ field }) => element("td", {}, one[field])));
        tr.dataset.seriesInstanceUid = one.seriesInstanceUID;
        return tr;
      }),
    );
    return table;
  }

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
