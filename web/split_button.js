// A split button, as OHIF's toolbar has them: the primary part runs the item it shows, the
// arrow opens a menu of the group's items. Picking an item runs it and makes it the
// primary one, unless the primary is fixed (the zoom and window/level tools keep theirs:
// their menus hold commands that go with them).
//
// An item: {id, label, icon, run(), command (its hotkey is shown), detail (a second
// line of text, as a preset's width and level), data (dataset of its buttons: tool,
// command), className, radio (a menuitemradio, checked with setChecked)}.

import { element } from "./dom.js";
import { describe } from "./hotkeys.js";
import { icon } from "./icons.js";
import { Popup } from "./popup.js";

export class SplitButton {
  // label: the group's name (its arrow's and its menu's); fixed: the item the primary
  // always shows; menuClass: the menu's class name.
  constructor({ label, fixed = null, menuClass = "" }) {
    this.fixed = fixed;
    this.items = [];
    this.shown = null; // the item the primary shows
    this.primary = element("button", { type: "button", className: "split-primary" });
    this.primary.addEventListener("click", () => this.shown?.run());
    this.arrow = element("button", { type: "button", className: "split-arrow" }, icon("chevron-down"));
    describe(this.arrow, label);
    this.menu = element("div", `menu ${menuClass}`.trim());
    this.menu.setAttribute("role", "menu");
    this.menu.setAttribute("aria-label", label);
    this.element = element("div", "split-button", this.primary, this.arrow, this.menu);
    this.element.setAttribute("role", "group");
    this.element.setAttribute("aria-label", label);
    this.popup = new Popup(this.arrow, this.menu);
    if (fixed) this.show(fixed);
  }

  // The menu's items; the primary keeps the item it shows if it is still there, else
  // shows the first.
  setItems(items) {
    this.items = items;
    this.menu.replaceChildren(...items.map((item) => this.menuItem(item)));
    this.arrow.disabled = this.primary.disabled || items.length === 0;
    if (!this.fixed) this.show(items.find((item) => item.id === this.shown?.id) ?? items[0]);
  }

  menuItem(item) {
    const node = element(
      "button",
      { type: "button", tabIndex: -1, className: `menu-item ${item.className ?? ""}`.trim() },
      item.icon ? icon(item.icon) : null,
      element("span", "menu-label", item.label),
      item.detail ? element("span", "menu-detail", item.detail) : null,
      element("kbd", "menu-key"),
    );
    node.setAttribute("role", item.radio ? "menuitemradio" : "menuitem");
    if (item.radio) node.setAttribute("aria-checked", "false");
    Object.assign(node.dataset, item.data);
    node.addEventListener("click", () => {
      this.popup.close(true);
      if (!this.fixed) this.show(item);
      item.run();
    });
    this.describeItem(node, item);
    return node;
  }

  describeItem(node, item) {
    const name = item.detail ? `${item.label}, ${item.detail}` : item.label;
    node.querySelector(".menu-key").textContent = describe(node, name, item.command);
  }

  // The primary shows `item` (an item or its id).
  show(item) {
    const shown = typeof item === "string" ? this.items.find((i) => i.id === item) : item;
    if (!shown || shown === this.shown) return;
    this.shown = shown;
    for (const key of Object.keys(this.primary.dataset)) delete this.primary.dataset[key];
    Object.assign(this.primary.dataset, shown.data);
    this.primary.replaceChildren(icon(shown.icon));
    describe(this.primary, shown.label, shown.command);
  }

  // The radio item of `id` checked, the others not.
  setChecked(id) {
    [...this.menu.children].forEach((node, i) => {
      if (this.items[i].radio) node.setAttribute("aria-checked", String(this.items[i].id === id));
    });
  }

  setDisabled(disabled) {
    this.primary.disabled = disabled;
    this.arrow.disabled = disabled || this.items.length === 0;
    if (disabled) this.popup.close();
  }

  // The tooltips again (the hotkeys may have changed).
  retitle() {
    if (this.shown) describe(this.primary, this.shown.label, this.shown.command);
    [...this.menu.children].forEach((node, i) => this.describeItem(node, this.items[i]));
  }
}
