// One DOM helper for the pages: an element with a class and, optionally, text (always
// textContent: DICOM strings never become markup).
export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}
