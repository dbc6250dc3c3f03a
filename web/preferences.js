// User preferences in localStorage: the only thing the viewer keeps between visits
// (never patient data or DICOM). One JSON record under one key, with a version number,
// so an upgrade migrates what an older release saved instead of failing on it.
//
//   getPreference(name)           the saved value, else the default
//   setPreference(name, value)    save one preference
//   clearPreference(name)         back to the default
//   onPreferenceChange(listener)  listener(name, value) after set/clear

const STORAGE_KEY = "ohifpy:preferences";
export const PREFERENCES_VERSION = 1;

// Defaults of every known preference; names not listed here are dropped on load.
const DEFAULTS = {
  lastQuery: null, // the study list's last filters and sort (clearable)
  dataSource: null, // the last data source chosen; null: the config's default
  layout: null, // viewer grid "rowsxcolumns"; null: from the study
  hotkeys: null, // {command: key} overrides of the default hotkeys
  toolBindings: null, // {mouseButton: tool} overrides
  overlayCompact: false, // the viewport overlay's compact mode (viewport_overlay.js)
};

// One entry per older version: each takes that version's record to the next one.
const MIGRATIONS = {
  // 0: records written before versioning (none shipped): keep the known names.
  0: (values) => values,
};

const listeners = new Set();

function read() {
  let stored;
  try {
    stored = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "null");
  } catch {
    stored = null; // unreadable: start from the defaults rather than fail the page
  }
  if (!stored || typeof stored !== "object") return {};
  let { version = 0, values = {} } = stored;
  while (version < PREFERENCES_VERSION && MIGRATIONS[version]) values = MIGRATIONS[version++](values);
  if (version !== PREFERENCES_VERSION) return {}; // from a newer release: do not guess
  return Object.fromEntries(Object.entries(values).filter(([name]) => name in DEFAULTS));
}

function write(values) {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ version: PREFERENCES_VERSION, values }));
  } catch {
    // storage full or disabled (private mode): the preference lasts for this page only
  }
}

function known(name) {
  if (!(name in DEFAULTS)) throw new Error(`no preference named ${name}`);
}

export function getPreference(name) {
  known(name);
  const values = read();
  return name in values ? values[name] : structuredClone(DEFAULTS[name]);
}

export function setPreference(name, value) {
  known(name);
  write({ ...read(), [name]: value });
  for (const listener of listeners) listener(name, value);
}

export function clearPreference(name) {
  known(name);
  const { [name]: _dropped, ...rest } = read();
  write(rest);
  for (const listener of listeners) listener(name, structuredClone(DEFAULTS[name]));
}

export function onPreferenceChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
