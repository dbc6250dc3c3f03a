// Reads the first bytes of the user's files for the Python worker, on a thread of its own.
//
// A browser File read costs its thread most of a millisecond whatever its size (the slice
// and the read go through the browser's blob machinery), and a thread busy parsing cannot
// do it meanwhile. So while ohifpy.datasources.local_files parses one batch of headers in
// the Python worker, this worker (started by it) reads the next batch's first bytes.
//
//   python -> reader   {id, files: [File, ...], length}
//   reader -> python   {id, heads: [ArrayBuffer | "ErrorName: message", ...]}   (transferred)
"use strict";

const describe = (error) => `${error?.name ?? "Error"}: ${error?.message ?? error}`;

self.onmessage = async ({ data: { id, files, length } }) => {
  const reads = await Promise.allSettled(files.map((file) => file.slice(0, length).arrayBuffer()));
  const heads = reads.map((read) => (read.status === "fulfilled" ? read.value : describe(read.reason)));
  self.postMessage({ id, heads }, heads.filter((head) => head instanceof ArrayBuffer));
};
