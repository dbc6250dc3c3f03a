// The "Python" side panel: a console on the images the viewer has loaded (console_client.js
// runs the cells in a worker of their own; ohifpy.console names what a cell sees).
//
//   Enter runs the cell (Shift+Enter: a new line), ↑/↓ on the first/last line walk the
//   history (kept for this tab only: sessionStorage), Tab completes the name before the
//   caret, Ctrl+C stops a running cell (a cross-origin isolated page; elsewhere the panel
//   says so and offers Restart), Escape leaves for the viewport.
//
// Output, tracebacks and completions are text nodes: nothing a cell prints becomes markup.

import { element } from "./dom.js";

const HISTORY_KEY = "ohifpy.consoleHistory";
const MAX_HISTORY = 200;

function button(text, className, onClick) {
  const node = element("button", className, text);
  node.type = "button";
  node.addEventListener("click", onClick);
  return node;
}

export class ConsolePanel {
  // client: a ConsoleClient; context: what a cell runs on (see ConsoleClient.run);
  // onLeave(): Escape, back to the viewport.
  constructor(client, context, { onLeave = () => {} } = {}) {
    this.client = client;
    this.context = context;
    this.onLeave = onLeave;
    this.running = false;
    this.history = readHistory();
    this.at = this.history.length; // the history entry shown; length: the draft
    this.draft = "";
    this.element = element("aside", "console-panel");
    this.element.setAttribute("aria-label", "Python console");
    this.output = element("div", "console-output");
    this.output.setAttribute("role", "log");
    this.output.setAttribute("aria-label", "Python output");
    this.output.tabIndex = 0;
    this.status = element("p", "console-status");
    this.status.setAttribute("role", "status");
    this.input = element("textarea", { className: "console-input", rows: 3, spellcheck: false });
    this.input.setAttribute("aria-label", "Python code (Enter runs, Shift+Enter adds a line)");
    this.input.setAttribute("autocapitalize", "off");
    this.input.setAttribute("autocomplete", "off");
    this.completions = element("ul", "console-completions");
    this.completions.setAttribute("aria-label", "Completions");
    this.completions.hidden = true;
    this.runButton = button("Run", "console-run", () => this.run());
    this.stopButton = button("Stop", "console-stop", () => this.stop());
    this.stopButton.disabled = true;
    const actions = element("div", "console-actions");
    actions.append(
      this.runButton,
      this.stopButton,
      button("Help", "console-help", () => this.help()),
      button("Clear", "console-clear", () => this.output.replaceChildren()),
      button("Restart", "console-restart", () => this.restart()),
    );
    this.element.append(element("h2", "", "Python"), this.output, this.completions, this.input, actions, this.status);
    this.input.addEventListener("keydown", (event) => this.key(event));
    this.element.addEventListener("keydown", (event) => {
      if (event.key === "c" && event.ctrlKey && this.running && !String(getSelection())) {
        event.preventDefault();
        this.stop();
      }
    });
  }

  // The client's state: starting, ready, failed.
  setState(state, message = "") {
    const texts = { starting: "Starting Python…", ready: "Python is ready.", failed: `The console cannot run: ${message}` };
    this.status.textContent = texts[state] ?? "";
    this.status.classList.toggle("error", state === "failed");
  }

  write({ stream, text }) {
    const last = this.output.lastElementChild;
    if (last?.dataset.stream === stream && !last.classList.contains("console-cell")) {
      last.append(text);
    } else {
      const block = element("pre", `console-${stream}`, text);
      block.dataset.stream = stream;
      this.output.append(block);
    }
    this.output.scrollTop = this.output.scrollHeight;
  }

  open() {
    this.client.start();
    this.input.focus({ preventScroll: true });
  }

  async run() {
    const code = this.input.value;
    if (this.running || !code.trim()) return;
    this.remember(code);
    this.input.value = "";
    this.hideCompletions();
    const echo = element("pre", "console-cell", code.split("\n").map((line, n) => `${n ? "... " : ">>> "}${line}`).join("\n"));
    this.output.append(echo);
    this.setRunning(true);
    try {
      await this.client.run(code, this.context);
    } catch (error) {
      this.write({ stream: "stderr", text: `${error.message}\n` });
    } finally {
      this.setRunning(false);
    }
  }

  setRunning(running) {
    this.running = running;
    this.element.setAttribute("aria-busy", String(running));
    this.stopButton.disabled = !running;
    this.runButton.disabled = running;
    if (running) this.status.textContent = "Running…";
    else if (this.client.ready) this.status.textContent = "";
  }

  stop() {
    if (!this.running) return;
    if (this.client.stop()) {
      this.status.textContent = "Stopping…";
      return;
    }
    this.status.textContent =
      "Ctrl+C cannot stop a cell here: the page is not cross-origin isolated " +
      "(Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy headers). Restart the console to stop it.";
  }

  restart() {
    this.client.restart();
    this.setRunning(false);
    this.write({ stream: "stdout", text: "The console was restarted: its names are gone.\n" });
  }

  async help() {
    try {
      this.write({ stream: "stdout", text: `${await this.client.help()}\n` });
    } catch (error) {
      this.write({ stream: "stderr", text: `${error.message}\n` });
    }
  }

  // ------------------------------------------------------------ keys

  key(event) {
    const { key, shiftKey, ctrlKey, altKey, metaKey } = event;
    const input = this.input;
    if (key === "Enter" && !shiftKey && !ctrlKey && !altKey && !metaKey) {
      event.preventDefault();
      this.run();
    } else if (key === "Tab" && !shiftKey && input.selectionStart === input.selectionEnd) {
      event.preventDefault();
      this.complete();
    } else if (key === "Escape") {
      event.preventDefault();
      if (!this.completions.hidden) this.hideCompletions();
      else this.onLeave?.();
    } else if (key === "ArrowUp" && !input.value.slice(0, input.selectionStart).includes("\n")) {
      if (this.step(-1)) event.preventDefault();
    } else if (key === "ArrowDown" && !input.value.slice(input.selectionEnd).includes("\n")) {
      if (this.step(1)) event.preventDefault();
    }
  }

  // ↑/↓: the previous / next cell run in this tab; past the last, what was being typed.
  step(delta) {
    const to = this.at + delta;
    if (to < 0 || to > this.history.length) return false;
    if (this.at === this.history.length) this.draft = this.input.value;
    this.at = to;
    this.input.value = to === this.history.length ? this.draft : this.history[to];
    this.input.setSelectionRange(this.input.value.length, this.input.value.length);
    return true;
  }

  remember(code) {
    if (this.history.at(-1) !== code) this.history.push(code);
    this.history.splice(0, this.history.length - MAX_HISTORY);
    this.at = this.history.length;
    this.draft = "";
    try {
      sessionStorage.setItem(HISTORY_KEY, JSON.stringify(this.history));
    } catch {
      // storage full or refused: the history stays for this page only
    }
  }

  async complete() {
    const input = this.input;
    const before = input.value.slice(0, input.selectionStart);
    const word = before.match(/[A-Za-z_][\w.]*$/)?.[0] ?? "";
    if (!word) return;
    let matches;
    try {
      matches = await this.client.complete(word);
    } catch (error) {
      this.status.textContent = `No completions: ${error.message}`;
      return;
    }
    if (matches.length === 0) return this.hideCompletions();
    const common = matches.reduce((a, b) => {
      let n = 0;
      while (n < a.length && a[n] === b[n]) n += 1;
      return a.slice(0, n);
    });
    if (common.length > word.length) {
      const start = input.selectionStart - word.length;
      input.setRangeText(common, start, input.selectionStart, "end");
    }
    if (matches.length === 1) return this.hideCompletions();
    this.completions.replaceChildren(...matches.map((match) => element("li", "", match)));
    this.completions.hidden = false;
  }

  hideCompletions() {
    this.completions.hidden = true;
    this.completions.replaceChildren();
  }

  destroy() {
    this.client.destroy();
  }
}

function readHistory() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(HISTORY_KEY) ?? "[]");
    return Array.isArray(kept) ? kept.filter((entry) => typeof entry === "string") : [];
  } catch {
    return [];
  }
}
