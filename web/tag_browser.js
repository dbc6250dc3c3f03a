// The DICOM tag browser: a dialog listing every element of an image of the viewport's
// display set (the worker's `tags`: tag, VR, keyword, value, sequences nested), with an
// image selector and a search by tag or keyword; Escape closes it (the browser's modal
// dialog). Every string is set with textContent: a value such as
// <img src=x onerror=alert(1)> is shown as those characters.

import { element } from "./dom.js";

const SEARCH_PAUSE_MS = 250;

function cells(node) {
  const row = element("div", "tag-row");
  row.append(
    element("span", "tag-tag", node.tag),
    element("span", "tag-vr", node.vr),
    element("span", "tag-keyword", node.keyword || node.name),
    element("span", "tag-value", node.value),
  );
  return row;
}

// A node as a row; a sequence or item as a <details> whose summary is its row.
function tree(node, open) {
  if (node.children.length === 0) {
    const leaf = cells(node);
    leaf.dataset.keyword = node.keyword;
    return leaf;
  }
  const details = element("details", "tag-sequence");
  details.dataset.keyword = node.keyword;
  details.open = open;
  const summary = element("summary");
  summary.append(cells(node));
  details.append(summary, ...node.children.map((child) => tree(child, open)));
  return details;
}

export function openTagBrowser(worker, viewport) {
  const displaySet = viewport.displaySet;
  if (!displaySet) return;
  const dialog = element("dialog", "tag-browser");
  const title = element("h2", { id: "tag-browser-title" }, "DICOM tags");
  dialog.setAttribute("aria-labelledby", title.id);
  const image = element("select", "tag-image");
  image.setAttribute("aria-label", "Image");
  for (let i = 0; i < displaySet.numImages; i++) {
    const option = element("option", "", `Image ${i + 1}`);
    option.value = String(i);
    image.append(option);
  }
  image.value = String(viewport.index);
  const search = element("input", "tag-search");
  search.type = "search";
  search.placeholder = "Search tag or keyword";
  search.setAttribute("aria-label", "Search tag or keyword");
  const close = element("button", "tag-close", "Close");
  close.type = "button";
  close.addEventListener("click", () => dialog.close());
  const header = element("header", "tag-header");
  header.append(title, image, search, close);
  const about = element("p", "tag-about");
  const body = element("div", { className: "tag-list", role: "region", tabIndex: 0 }); // scrolled by keys too
  body.setAttribute("aria-label", "Elements");
  dialog.append(header, about, body);
  dialog.addEventListener("close", () => dialog.remove());
  // Escape closes it from anywhere, the search field too (where it would clear the text).
  dialog.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    event.preventDefault();
    dialog.close();
  });
  document.body.append(dialog);
  dialog.showModal();

  let latest = 0; // answers to older requests are dropped
  async function show() {
    const request = ++latest;
    const query = search.value.trim();
    try {
      const answer = await worker.call("tags", {
        displaySetUID: displaySet.displaySetUID, imageIndex: Number(image.value), search: query,
      });
      if (request !== latest) return;
      const frame = answer.numberOfFrames > 1 ? `, frame ${answer.frameNumber}/${answer.numberOfFrames}` : "";
      const number = answer.instanceNumber == null ? "" : `instance ${answer.instanceNumber}${frame}, `;
      const count = `${answer.elements.length} of ${answer.total} elements`;
      about.textContent = `${number}SOP instance ${answer.sopInstanceUID}: ${count}`;
      body.dataset.sopInstanceUid = answer.sopInstanceUID;
      body.replaceChildren(...answer.elements.map((node) => tree(node, query !== "")));
    } catch (error) {
      if (request === latest) about.textContent = `The tags cannot be read: ${error.message}`;
    }
  }
  let pause;
  search.addEventListener("input", () => {
    clearTimeout(pause);
    pause = setTimeout(show, SEARCH_PAUSE_MS);
  });
  image.addEventListener("change", show);
  show();
  return dialog;
}
