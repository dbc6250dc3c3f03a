// The measurements of the open study, as the worker's `measure` answered them, with a
// command stack for undo/redo. Every change is a command (add, remove, replace) that
// knows its inverse; listeners get a "change" event after each change or selection.

export class MeasurementStore extends EventTarget {
  constructor() {
    super();
    this.items = new Map(); // uid -> measurement, in drawing order
    this.selectedUID = null;
    this.done = [];
    this.undone = [];
  }

  list() {
    return [...this.items.values()];
  }

  get(uid) {
    return this.items.get(uid);
  }

  // Measurements read from a report: the new starting point, not an undoable change.
  load(measurements) {
    this.items = new Map(measurements.map((m) => [m.uid, m]));
    this.done = [];
    this.undone = [];
    this.selectedUID = null;
    this.changed();
  }

  add(measurement) {
    this.execute({ before: null, after: measurement });
  }

  remove(uid) {
    const before = this.items.get(uid);
    if (before) this.execute({ before, after: null });
  }

  replace(measurement) {
    const before = this.items.get(measurement.uid);
    if (before) this.execute({ before, after: measurement });
  }

  select(uid) {
    this.selectedUID = uid;
    this.changed();
  }

  undo() {
    const command = this.done.pop();
    if (!command) return;
    this.apply(command.after, command.before);
    this.undone.push(command);
    this.changed();
  }

  redo() {
    const command = this.undone.pop();
    if (!command) return;
    this.apply(command.before, command.after);
    this.done.push(command);
    this.changed();
  }

  execute(command) {
    this.apply(command.before, command.after);
    this.done.push(command);
    this.undone = [];
    this.changed();
  }

  // From one state of a measurement to another (null: not there).
  apply(from, to) {
    if (to === null) {
      this.items.delete(from.uid);
      if (this.selectedUID === from.uid) this.selectedUID = null;
    } else {
      this.items.set(to.uid, to);
    }
  }

  changed() {
    this.dispatchEvent(new Event("change"));
  }
}
