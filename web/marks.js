// User Timing marks the benchmarks and tests read (DESIGN.md, Instrumentation).
export const MARKS = {
  runtimeReady: "ohifpy:runtime-ready",
  firstImage: "ohifpy:first-image",
  firstPreview: "ohifpy:first-preview", // the server-rendered preview while Python starts (preview.js)
  seriesLoaded: "ohifpy:series-loaded",
};

// Marks the first time only: a mark means "first ... since the page loaded".
export function markOnce(name) {
  if (performance.getEntriesByName(name, "mark").length === 0) performance.mark(name);
}

// Resolves once `name` is marked (at once if it was already).
export function whenMarked(name) {
  return new Promise((resolve) => {
    if (performance.getEntriesByName(name, "mark").length > 0) return resolve();
    const observer = new PerformanceObserver((entries) => {
      if (entries.getEntriesByName(name, "mark").length === 0) return;
      observer.disconnect();
      resolve();
    });
    observer.observe({ type: "mark" });
  });
}
