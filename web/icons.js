// The controls' icons: Lucide's SVGs (npm lucide-static, ISC licence), which
// scripts/build_static.py writes as their elements into vendor/icons/icons.js; its ICONS
// lists every name the page uses.
//
// An icon is an inline SVG stroked in currentColor, so it takes the colour of its control
// (theme, pressed, disabled) as text does. Inline, not an image or a CSS mask: each of those
// is an SVG document of its own for the browser to fetch and parse, and the icons came to
// a tenth of the page's work while Python started.

import ICONS from "./vendor/icons/icons.js";

const SVG = "http://www.w3.org/2000/svg";

function build([tag, attributes, children]) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children.map(build));
  return node;
}

export function icon(name) {
  if (!Object.hasOwn(ICONS, name)) throw new Error(`no icon named ${name}: see ICONS in scripts/build_static.py`);
  const node = build(ICONS[name]);
  node.classList.add("icon");
  node.setAttribute("aria-hidden", "true");
  node.dataset.icon = name;
  return node;
}
