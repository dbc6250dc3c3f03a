// Entry point: start the Python worker at once, load the config, route.
//
// Routes (relative to the base path, so the site works from any subpath):
//   ""        the study list          (studylist.js)
//   "viewer"  ?StudyInstanceUIDs=...  (viewer.js)
//   "viewer/dicomjson"  ?url=...      (viewer.js: the studies of an OHIF dicomjson file)
//   "local"   the user's own files    (local.js)
//   "callback"  the OpenID provider's answer after sign-in (auth.js), then the page it left
// Links inside the app change the route with history.pushState, so the worker (and the
// Python runtime it took seconds to start) lives on from the study list to the viewer,
// and with it the local files the user opened (they live in the worker, nowhere else).
// Files or folders dropped on any page open as local files (local.js).

import { startAuth, takeUrlToken } from "./auth.js";
import { setDateFormat } from "./display_format.js";
import { element } from "./dom.js";
import { createLocalFiles, installFileDrop } from "./local.js";
import { MARKS, markOnce, whenMarked } from "./marks.js";
import { fetchPreview } from "./preview.js";
import { showStudyList } from "./studylist.js";
import { showViewer } from "./viewer.js";
import { WorkerClient } from "./worker_client.js";

const base = new URL(document.baseURI);
const urlToken = takeUrlToken(); // out of the address bar before anything else runs
const worker = new WorkerClient(self.ohifpyWorker); // started by boot.js

async function fetchJson(url, what) {
  const response = await fetch(url, { cache: "no-cache" });
  if (!response.ok) throw new Error(`${what} ${url}: HTTP ${response.status}`);
  return response.json();
}

// The shipped config. A link's ?configUrl= goes to Python with it: Python checks it against
// the shipped config's allow-list, then fetches and validates it (ohifpy.config).
const loadConfig = () => fetchJson(new URL("config/app-config.json", base), "config");
const configUrl = new URLSearchParams(location.search).get("configUrl") ?? "";

const status = document.getElementById("status");
status.textContent = "Starting Python…";

// Python cannot go on (it did not start, or its runtime failed): say what failed, and offer
// a reload, which keeps the URL (the study, the filters).
function showFatal({ message }) {
  if (document.querySelector(".fatal")) return;
  const reload = element("button", { type: "button", className: "reload" }, "Reload");
  reload.addEventListener("click", () => location.reload());
  const alert = element("section", "fatal", element("span", "", `The viewer stopped: ${message}`), reload);
  alert.setAttribute("role", "alert");
  document.getElementById("main").before(alert);
  status.textContent = "";
}
worker.on("fatal", showFatal);
if (worker.failed !== null) showFatal({ message: worker.failed });
const START_TIMEOUT_MS = 300_000; // a start slower than this is a failure worth saying
// The study metadata a viewer link opens with (WADO-RS, PS3.18 10.4.1.1.2), fetched by the
// worker while Python starts, with the signed-in user's token if there is one (the URL is
// the configured server's). The worker's Python client takes it if it asks for the same
// URL, else asks itself: a wrong guess costs one request, never a wrong answer. (So this
// splits the URL's UIDs itself, the one place the page does: Python is not up yet.)
function metadataToPrefetch(source) {
  const params = new URL(location.href).searchParams;
  const studies = params.get("StudyInstanceUIDs");
  if (!studies || params.get("SeriesInstanceUIDs") || !source?.wadoRoot) return [];
  const root = new URL(source.wadoRoot, base).href.replace(/\/+$/, "");
  return studies.split(",").map((uid) => uid.trim()).filter(Boolean)
    .map((uid) => `${root}/studies/${encodeURIComponent(uid)}/metadata`);
}

// The data source (its OHIF configuration object) a viewer link at start opens, or null
// on another page. Nothing is fetched for a config from a link before Python has
// validated it, so there is none with ?configUrl=.
function viewerSource(config) {
  const url = new URL(location.href);
  if (routeOf(url) !== "viewer" || configUrl) return null;
  const sources = config.dataSources ?? [];
  const name = (s) => s.configuration?.name || s.sourceName;
  const chosen = url.searchParams.get("datasources") || config.defaultDataSourceName || (sources[0] && name(sources[0]));
  return sources.find((s) => name(s) === chosen)?.configuration ?? null;
}

// init's answer, for every page: the data sources, and the tables the pages build their
// controls from (tool names and labels, layout limits, the study list's columns: Python's).
// Pages render once the user is signed in (or needs not be): see auth.js.
const config = loadConfig();
const signedIn = config.then((shipped) =>
  startAuth({ config: shipped, base, worker, route: routeOf(new URL(location.href)), urlToken }).catch((error) => {
    status.textContent = `Sign-in is not available: ${error.message}`;
    worker.on("token-needed", () => worker.setAccessToken(null)); // requests fail, none hangs
  }),
);
// The server-rendered preview the viewer shows while Python starts (preview.js): fetched
// from the start, at once with the metadata; taken by the first page, a viewer or not.
let preview = Promise.all([config, signedIn]).then(([shipped]) => {
  const source = viewerSource(shipped);
  return source && fetchPreview({ source, params: new URL(location.href).searchParams, base, token: worker.accessToken });
});
preview.catch(() => {});
const runtime = (async () => {
  const shipped = await config;
  await signedIn;
  worker.prefetch(metadataToPrefetch(viewerSource(shipped)));
  const answer = await worker.call("init", { config: shipped, baseUrl: base.href, configUrl }, { timeoutMs: START_TIMEOUT_MS });
  setDateFormat(answer.tables.dateFormat); // before any page shows a date
  markOnce(MARKS.runtimeReady);
  return answer;
})();
runtime.then(
  () => status.textContent === "Starting Python…" && (status.textContent = ""),
  (error) => error.type !== "WorkerFailed" && (status.textContent = `The viewer could not start: ${error.message}`),
);

function routeOf(url) {
  const path = url.pathname.startsWith(base.pathname) ? url.pathname.slice(base.pathname.length) : "";
  return path.replace(/\/+$/, "").replace(/\/index\.html$|^index\.html$/, "");
}

let leave = () => {};

// Under the header, kept through navigations: what opening local files came to.
const notice = element("section", "notice");
notice.hidden = true;
notice.setAttribute("role", "status");
document.getElementById("main").before(notice);
const local = createLocalFiles({ worker, runtime, notice, navigate: (href) => navigate(href) });

function render() {
  leave();
  const main = document.getElementById("main");
  main.replaceChildren();
  const url = new URL(location.href);
  const context = { worker, runtime, main, params: url.searchParams, preview };
  preview = null; // later pages: Python is up, the diagnostic image comes as fast
  const route = routeOf(url);
  if (route === "viewer") leave = showViewer(context);
  else if (route === "viewer/dicomjson") leave = showViewer({ ...context, dicomJsonUrl: url.searchParams.get("url") ?? "" });
  else if (route === "") leave = showStudyList(context);
  else if (route === "local") leave = local.showPage(main);
  else {
    main.append(element("p", "note", `No page ${route}.`));
    leave = () => {};
  }
}

function navigate(href) {
  const url = new URL(href, base);
  history.pushState(null, "", url);
  render();
}

// Follow in-app links without reloading the page (and the worker).
document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[data-route]");
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(link.href);
});
window.addEventListener("popstate", render);

const home = document.getElementById("home");
home.href = base.href;
const localLink = element("a", "header-link open-local", "Open local files");
localLink.href = new URL("local", base).href;
localLink.dataset.route = "";
home.after(localLink);
installFileDrop((collecting) => local.open(collecting));
signedIn.then(render, render); // a config that failed to load is told by the page

// The service worker caches the app shell for the next start (and offline): it downloads
// its 23 MB again, and Chromium compiles its scripts for the next start as they go in. On
// two cores that work is taken from whatever runs meanwhile, so it waits for the runtime
// and for the viewer's first image (a page that shows none: SHELL_CACHE_DELAY_MS more).
const SHELL_CACHE_DELAY_MS = 5000;
runtime
  .finally(() => Promise.race([
    whenMarked(MARKS.firstImage),
    new Promise((resolve) => setTimeout(resolve, SHELL_CACHE_DELAY_MS)),
  ]))
  .finally(() => {
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register(new URL("service_worker.js", base), { scope: base.href }).catch(() => {});
    }
  })
  .catch(() => {});
