// A server-rendered preview while Python starts (seconds on a first visit): the server's
// own rendering (WADO-RS /rendered, PS3.18 10.4.1.1.3, its default window, JPEG) of the
// image the viewer will most likely show first, marked "Preview" on screen until the
// viewer draws its first diagnostic image (ohifpy:first-image), which replaces it.
//
// Python decides what the viewer shows (the hanging protocol), and it is not up yet, so
// the page guesses as the default protocol hangs one study: the URL's
// initialSeriesInstanceUID, else the first image series by SeriesNumber (then UID) of a
// QIDO-RS series query (a series of more than one image before a single image, as the
// protocol prefers stacks), and of it image number 1 (InstanceNumber), else the lowest.
// A wrong guess shows another image of the study for a moment, never a wrong diagnostic one.
// No preview for several studies or a named protocol (they hang differently), nor from a
// source that cannot render: a static tree (staticWado), or one whose config says
// supportsRendered: false.
import { MARKS, markOnce } from "./marks.js";

// Series of no image the viewer opens as a document or an overlay, never first.
const NOT_IMAGES = new Set(["SR", "SEG", "RTSTRUCT", "RTPLAN", "PR", "KO", "DOC", "REG", "FID"]);
const SERIES_NUMBER = "00200011";
const SERIES_UID = "0020000E";
const MODALITY = "00080060";
const INSTANCES = "00201209"; // NumberOfSeriesRelatedInstances
const INSTANCE_NUMBER = "00200013";
const SOP_UID = "00080018";

const value = (item, tag) => item[tag]?.Value?.[0];
const number = (item, tag) => Number(value(item, tag) ?? Infinity);

// The series shown first: see above. `only` (the URL's SeriesInstanceUIDs) limits the choice.
function firstSeries(series, only) {
  const candidates = series
    .filter((s) => !NOT_IMAGES.has(value(s, MODALITY)) && (only.length === 0 || only.includes(value(s, SERIES_UID))))
    .sort((a, b) => (number(b, INSTANCES) > 1) - (number(a, INSTANCES) > 1)
      || number(a, SERIES_NUMBER) - number(b, SERIES_NUMBER)
      || String(value(a, SERIES_UID)).localeCompare(String(value(b, SERIES_UID))));
  return value(candidates[0] ?? {}, SERIES_UID) ?? null;
}

// The preview of the viewer link `params` from `source` (the configured DICOMweb source it
// opens, OHIF's configuration object), as a Blob, or null when there is none. `token` is
// the signed-in user's: these URLs are all the configured server's, so they may carry it.
export async function fetchPreview({ source, params, base, token }) {
  const studies = (params.get("StudyInstanceUIDs") ?? "").split(",").map((uid) => uid.trim()).filter(Boolean);
  if (!source?.qidoRoot || !source.wadoRoot || source.staticWado || source.supportsRendered === false) return null;
  if (studies.length !== 1 || params.get("hangingProtocolId")) return null;
  const root = (url) => new URL(url, base).href.replace(/\/+$/, "");
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const get = async (url, accept) => {
    const response = await fetch(url, { headers: { ...headers, Accept: accept }, cache: "no-store", credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response;
  };
  const search = async (url) => {
    const response = await get(url, "application/dicom+json");
    return response.status === 204 ? [] : response.json(); // 204: no match
  };
  const study = `/studies/${encodeURIComponent(studies[0])}`;
  const only = (params.get("SeriesInstanceUIDs") ?? "").split(",").map((uid) => uid.trim()).filter(Boolean);
  try {
    let series = params.get("initialSeriesInstanceUID") || null;
    if (!series) series = firstSeries(await search(`${root(source.qidoRoot)}${study}/series`), only);
    if (!series) return null;
    const path = `${study}/series/${encodeURIComponent(series)}`;
    // Most series number their images from 1: that one alone costs the server a few ms,
    // the whole list of a 200-image series ~200 ms (Orthanc, measured), busy while Python
    // starts on the same machine. The list only when no image is number 1.
    const list = `${root(source.qidoRoot)}${path}/instances`;
    let instances = await search(`${list}?InstanceNumber=1`);
    if (instances.length === 0) instances = await search(list);
    const first = instances.reduce((a, b) => (number(b, INSTANCE_NUMBER) < number(a, INSTANCE_NUMBER) ? b : a), instances[0]);
    const sop = first && value(first, SOP_UID);
    if (!sop) return null;
    return await (await get(`${root(source.wadoRoot)}${path}/instances/${encodeURIComponent(sop)}/rendered`, "image/jpeg")).blob();
  } catch {
    return null; // a preview is a courtesy: the viewer tells what fails when it asks itself
  }
}

// Shows the preview `pending` (a Promise of a Blob or null) in `container` once it arrives,
// unless remove() came first (the diagnostic image is drawn, or the page left or failed).
export function showPreview(container, pending) {
  let removed = false;
  let figure = null;
  let url = null;
  (async () => {
    const blob = await pending;
    if (!blob || removed) return;
    url = URL.createObjectURL(blob);
    const image = document.createElement("img");
    image.src = url;
    image.alt = "Preview rendered by the server, not the diagnostic image";
    await image.decode();
    if (removed) return;
    figure = document.createElement("figure");
    figure.className = "preview";
    const label = document.createElement("figcaption");
    label.textContent = "Preview";
    figure.append(image, label);
    container.append(figure);
    markOnce(MARKS.firstPreview);
  })().catch(() => {});
  return {
    remove() {
      removed = true;
      figure?.remove();
      if (url) URL.revokeObjectURL(url);
    },
  };
}
