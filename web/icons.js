// The controls' icons: Lucide's SVGs (npm lucide-static, ISC licence), copied into
// vendor/icons/ by scripts/build_static.py, whose ICONS lists every name the page uses.
//
// An icon is a span masked by its SVG and painted in currentColor, so it takes the colour
// of its control (theme, pressed, disabled) as text does. The mask is set through the
// CSSOM: the app's Content-Security-Policy allows no style attribute and images from its
// own origin only.

import { element } from "./dom.js";

export function icon(name) {
  const node = element("span", "icon");
  node.setAttribute("aria-hidden", "true");
  node.dataset.icon = name;
  const url = `url("vendor/icons/${name}.svg")`; // relative to the page's <base href>
  node.style.setProperty("-webkit-mask-image", url);
  node.style.setProperty("mask-image", url);
  return node;
}
