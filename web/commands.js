// The viewport-level commands, by name, each acting on the active viewport. Hotkeys, the
// toolbar and the viewer page call them; the viewer page adds the viewer-level ones
// (nextViewport, previousViewport, nextSeries, previousSeries) to the same map.

import { downloadBlob } from "./dom.js";
import { openTagBrowser } from "./tag_browser.js";

const ZOOM_STEP = 1.25;

// Save the active viewport as a PNG file, as the browser downloads files.
export async function downloadCapture(viewport) {
  downloadBlob(await viewport.capture({ annotations: true }), "viewport.png");
}

export function viewportCommands(getActiveViewport) {
  // Commands do nothing until the active viewport shows a display set.
  const on = (action) => () => {
    const viewport = getActiveViewport();
    if (viewport?.displaySet) action(viewport);
  };
  const presets = Object.fromEntries(
    [1, 2, 3, 4, 5].map((n) => [`preset${n}`, on((v) => v.applyPreset(n))]),
  );
  return {
    zoomIn: on((v) => v.zoomBy(ZOOM_STEP)),
    zoomOut: on((v) => v.zoomBy(1 / ZOOM_STEP)),
    fit: on((v) => v.fit()),
    rotateRight: on((v) => v.rotate(90)),
    rotateLeft: on((v) => v.rotate(-90)),
    flipHorizontal: on((v) => v.flipHorizontal()),
    flipVertical: on((v) => v.flipVertical()),
    invert: on((v) => v.toggleInvert()),
    reset: on((v) => v.reset()),
    cine: on((v) => v.toggleCine()),
    nextImage: on((v) => v.scroll(1)),
    previousImage: on((v) => v.scroll(-1)),
    firstImage: on((v) => v.setIndex(0)),
    lastImage: on((v) => v.setIndex(v.displaySet.numImages - 1)),
    ...presets,
    capture: on((v) => v.document || downloadCapture(v)), // a document: no image to capture
    toggleOverlays: on((v) => v.toggleOverlays()),
    tagBrowser: on((v) => openTagBrowser(v.worker, v)), // the active viewport's image's tags
    windowLevelTool: on((v) => v.setPrimaryTool("WindowLevel")),
    zoomTool: on((v) => v.setPrimaryTool("Zoom")),
    panTool: on((v) => v.setPrimaryTool("Pan")),
    stackScrollTool: on((v) => v.setPrimaryTool("StackScroll")),
    crosshairsTool: on((v) => v.toolAvailable("Crosshairs") && v.setPrimaryTool("Crosshairs")),
  };
}
