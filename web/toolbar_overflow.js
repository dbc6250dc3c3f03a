// The toolbar on one row: the items that do not fit move, from the last one, into the
// "More" panel (a popup of the same controls, each named beside its icon), and come back
// as room comes (a ResizeObserver on the bar; fit() again when items change).

import { element } from "./dom.js";
import { describe } from "./hotkeys.js";
import { icon } from "./icons.js";
import { Popup } from "./popup.js";

export class Overflow {
  // bar: the row, whose items (setItems) go before the "More" button.
  constructor(bar) {
    this.bar = bar;
    this.items = [];
    this.button = element("button", { type: "button", className: "toolbar-more", hidden: true }, icon("ellipsis"));
    describe(this.button, "More tools");
    this.panel = element("div", "toolbar-overflow");
    this.panel.setAttribute("role", "group");
    this.panel.setAttribute("aria-label", "More tools");
    this.popup = new Popup(this.button, this.panel, { menu: false });
    // A button pressed in the panel closes it, as a menu's item closes its menu (a field
    // does not, nor a button that opens a menu of its own).
    this.panel.addEventListener("click", (event) => {
      const pressed = event.target.closest("button");
      if (pressed && !pressed.hasAttribute("aria-haspopup")) this.popup.close(this.panel.contains(document.activeElement));
    });
    bar.append(this.button, this.panel);
    this.observer = new ResizeObserver(() => this.fit());
    this.observer.observe(bar);
  }

  setItems(items) {
    this.items = items;
    this.fit();
  }

  fit() {
    const { bar, button, items } = this;
    this.popup.close();
    // Every item on the bar, in order: does it all fit?
    let previous = null;
    for (const item of items) {
      const next = previous ? previous.nextSibling : bar.firstChild;
      if (next !== item) bar.insertBefore(item, next);
      previous = item;
    }
    button.hidden = true;
    if (bar.scrollWidth <= bar.clientWidth) return;
    // No: room for the "More" button at the end, the items past it go into its panel.
    button.hidden = false;
    const style = getComputedStyle(bar);
    const limit = bar.getBoundingClientRect().right - parseFloat(style.paddingRight)
      - button.offsetWidth - (parseFloat(style.columnGap) || 0);
    const cut = items.findIndex((item) => item.getBoundingClientRect().right > limit);
    if (cut >= 0) this.panel.append(...items.slice(cut));
  }

  destroy() {
    this.observer.disconnect();
    this.popup.close();
  }
}
