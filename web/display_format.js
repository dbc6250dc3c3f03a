// Dates and times in the one format the app config chose (init's tables.dateFormat), for
// every page: "ohif" shows the worker's texts (OHIF's DD-MMM-YYYY and HH:mm, made by
// ohifpy.display_format), "locale" formats the ISO forms the worker sends beside them
// with the browser's locale. A value without an ISO form (malformed) shows its text
// either way: an unreadable date is still the scanner's evidence.
//
// Each is a <time> element whose datetime is the ISO form, its text set as text only.

import { element } from "./dom.js";

let dateFormat = "ohif";

// Called once, with init's answer, before any page shows a date.
export function setDateFormat(format) {
  dateFormat = format === "locale" ? "locale" : "ohif";
}

// The wall clock the scanner wrote, whatever the offset (as the "ohif" texts show it):
// formatted in UTC from the digits, never moved to the reader's time zone.
const LOCALE_FORMATS = [
  [/^\d{4}-\d{2}-\d{2}$/, (iso) => `${iso}T00:00:00Z`, { dateStyle: "medium" }],
  [/^\d{2}:\d{2}:\d{2}$/, (iso) => `1970-01-01T${iso}Z`, { timeStyle: "short" }],
  [/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/, (iso) => `${iso.slice(0, 19)}Z`, { dateStyle: "medium", timeStyle: "short" }],
].map(([pattern, instant, options]) => [pattern, instant, new Intl.DateTimeFormat(undefined, { ...options, timeZone: "UTC" })]);

function localeText(iso) {
  const found = LOCALE_FORMATS.find(([pattern]) => pattern.test(iso));
  const moment = found && new Date(found[1](iso));
  return moment && !Number.isNaN(moment.getTime()) ? found[2].format(moment) : "";
}

// A date, time or date-time value as shown: `text` (the worker's) and `iso` ("" when
// malformed). Empty text: null (element() leaves it out).
export function timeElement(text, iso = "") {
  if (!text) return null;
  const shown = (dateFormat === "locale" && iso && localeText(iso)) || text;
  const node = element("time", {}, shown);
  if (iso) node.dateTime = iso;
  return node;
}

// A study's date (a study list row, a study header: their *Text and *Iso keys), with its
// time when `withTime`; the ISO form only when every part shown has one.
export function studyDate(study, { withTime = false } = {}) {
  const parts = [[study.studyDateText, study.studyDateIso]];
  if (withTime) parts.push([study.studyTimeText, study.studyTimeIso]);
  const shown = parts.filter(([text]) => text);
  const iso = shown.every(([, partIso]) => partIso) ? shown.map(([, partIso]) => partIso).join("T") : "";
  return timeElement(shown.map(([text]) => text).join(" "), iso);
}
