// A button's popup: a menu (role=menu: a split button's, the layout picker's) or a panel
// of controls (the toolbar's "More"). It is a manual popover, so it shows in the top layer:
// over the viewports and never clipped by the header, placed under its button.
//
// As WAI-ARIA's menu button: Enter, Space or ArrowDown on the button open it on its first
// item (ArrowUp: on its last); the arrow keys move between its items (a menu's items are
// no Tab stops), Home and End to the ends; Escape closes it and gives the focus back to
// the button; a press elsewhere or the focus leaving closes it. One is open at a time,
// besides those it is inside of (a split button's menu in the "More" panel).

const opened = new Set();
let count = 0; // for the popups' ids

// The next item from items[index] for an arrow, Home or End key (undefined: none).
function stepInList(items, index, key) {
  const last = items.length - 1;
  if (key === "ArrowDown" || key === "ArrowRight") return items[index >= last ? 0 : index + 1];
  if (key === "ArrowUp" || key === "ArrowLeft") return items[index <= 0 ? last : index - 1];
  if (key === "Home") return items[0];
  if (key === "End") return items[last];
  return undefined;
}

const MOVES = new Set(["ArrowDown", "ArrowUp", "ArrowLeft", "ArrowRight", "Home", "End"]);

function closeOutside(event) {
  for (const popup of [...opened]) {
    if (!popup.element.contains(event.target) && !popup.button.contains(event.target)) popup.close();
  }
}

export class Popup {
  // button: what opens it; element: its content, role=menu or a panel (menu: false) whose
  // items are its buttons and fields; navigate(items, index, key): the item a key moves
  // to (a grid of items moves in two directions).
  constructor(button, element, { menu = true, navigate = stepInList } = {}) {
    Object.assign(this, { button, element, menu, navigate });
    element.popover = "manual";
    element.classList.add("popup");
    element.id ||= `popup-${++count}`;
    button.setAttribute("aria-controls", element.id);
    button.setAttribute("aria-expanded", "false");
    if (menu) button.setAttribute("aria-haspopup", "menu");
    button.addEventListener("click", () => (this.isOpen ? this.close() : this.open()));
    button.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        this.open(event.key === "ArrowUp" ? "last" : "first");
      } else if (event.key === "Escape" && this.isOpen) {
        event.preventDefault();
        this.close();
      }
    });
    element.addEventListener("keydown", (event) => this.onKey(event));
    element.addEventListener("focusout", (event) => {
      const to = event.relatedTarget;
      if (to && !element.contains(to) && to !== button) this.close();
    });
  }

  get isOpen() {
    return opened.has(this);
  }

  // Its items, in order: those of a popup inside it are that popup's.
  items() {
    const selector = this.menu ? "[role^='menuitem']" : "button, input, select";
    return [...this.element.querySelectorAll(selector)].filter(
      (item) => !item.disabled && item.closest(".popup") === this.element && item.checkVisibility(),
    );
  }

  // Open it with the focus on its first (or last) item.
  open(focus = "first") {
    if (!this.isOpen) {
      for (const other of [...opened]) if (!other.element.contains(this.button)) other.close();
      if (opened.size === 0) document.addEventListener("pointerdown", closeOutside, true);
      opened.add(this);
      this.element.showPopover();
      this.button.setAttribute("aria-expanded", "true");
      this.place();
    }
    const items = this.items();
    (focus === "last" ? items.at(-1) : items[0])?.focus();
  }

  // Close it (and what is open inside it); `refocus`: give the focus back to its button.
  close(refocus = false) {
    if (!this.isOpen) return;
    for (const other of [...opened]) if (other !== this && this.element.contains(other.button)) other.close();
    opened.delete(this);
    if (opened.size === 0) document.removeEventListener("pointerdown", closeOutside, true);
    if (this.element.matches(":popover-open")) this.element.hidePopover(); // (not if taken out of the page)
    this.button.setAttribute("aria-expanded", "false");
    if (refocus) this.button.focus();
  }

  // Under its button, inside the window (a popover is fixed to the viewport).
  place() {
    const below = this.button.getBoundingClientRect();
    const style = this.element.style;
    style.left = `${Math.max(0, Math.min(below.left, innerWidth - this.element.offsetWidth - 4))}px`;
    style.top = `${below.bottom + 2}px`;
    style.maxHeight = `${Math.max(120, innerHeight - below.bottom - 8)}px`;
  }

  onKey(event) {
    if (event.defaultPrevented) return; // a popup inside it had the key
    if (event.key === "Escape") {
      event.preventDefault();
      this.close(true);
      return;
    }
    // A field keeps its own arrow keys (a number's up and down, the caret).
    if (!MOVES.has(event.key) || event.target.matches("input, select")) return;
    event.preventDefault(); // nor are they the viewer's hotkeys here
    const items = this.items();
    this.navigate(items, items.indexOf(event.target), event.key)?.focus();
  }
}
