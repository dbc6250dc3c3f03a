// The pages' one place for making DOM nodes: HTML elements, SVG elements, downloads.
//
//   element("p", "note", text)                         a class name, then children
//   element("input", { type: "search", name }, ...)    or properties (className, textContent…)
//
// Children are nodes or strings; a string becomes a text node (as textContent does: DICOM
// strings never become markup); null, undefined and "" are left out.
export function element(tag, classOrProperties, ...children) {
  const node = document.createElement(tag);
  if (typeof classOrProperties === "string") {
    if (classOrProperties) node.className = classOrProperties;
  } else if (classOrProperties) {
    Object.assign(node, classOrProperties);
  }
  node.append(...children.filter((child) => child != null && child !== ""));
  return node;
}

export const SVG_NS = "http://www.w3.org/2000/svg";

// An SVG element (annotations) with its attributes.
export function svgElement(name, attributes = {}) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

// Let the browser download `blob` as `fileName` (a CSV, a report, a capture).
export function downloadBlob(blob, fileName) {
  const link = element("a", { href: URL.createObjectURL(blob), download: fileName });
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}
