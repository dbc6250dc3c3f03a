// The WebAssembly DICOM codecs (dist/codecs/, listed in codecs.json), loaded on first use
// and called one way wherever they run: in the Python worker (web/worker.js) when no codec
// worker can, and in the codec workers (web/codec_worker.js) that decode beside it.
//
//   loadCodec(name) -> Promise of {decode(encoded: Uint8Array, bytesPerSample)}
//   decode(...)     -> {decoded: Uint8Array (its own buffer: transferable), info}
//
// `info` is the Emscripten codecs' frame info ({width, height, bitsPerSample,
// componentCount, ...}, CharLS adds interleaveMode) or null (jpeg-lossless-decoder-js has
// none); ohifpy.imaging.wasm_codecs turns it into pydicom's decoding options. A codec
// failure throws an Error with the codec's own message where it gives one.
"use strict";

const CODECS = new URL("codecs/", self.location.href).href; // classic scripts sit at the base

// Embind class each Emscripten codec exports.
const EMBIND_CLASSES = {
  openjpeg: "J2KDecoder",
  openjph: "HTJ2KDecoder",
  charls: "JpegLSDecoder",
  "libjpeg-turbo-8bit": "JPEGDecoder",
};

let codecIndex = null; // Promise of codecs.json, fetched with the first codec
const codecs = new Map(); // name -> Promise of {decode}

// Each classic codec script declares a global factory (openjph's is called `Module`, a name
// Emscripten code looks for): take it and clear the global so nothing else picks it up.
async function instantiateCodec(name) {
  codecIndex ??= fetch(CODECS + "codecs.json").then((response) => response.json());
  const spec = (await codecIndex)[name];
  if (!spec) throw new Error(`no codec named ${name} in codecs.json`);
  if (spec.type !== "classic") {
    const { Decoder } = await import(CODECS + spec.script);
    return { decode: (encoded, bytesPerSample) => decodeJpegLossless(Decoder, encoded, bytesPerSample) };
  }
  importScripts(CODECS + spec.script);
  const factory = self[spec.export];
  self[spec.export] = undefined;
  const module = await factory({
    locateFile: (file) => CODECS + file, // the .wasm sits next to its script
    print: () => {},
    printErr: () => {},
  });
  return { decode: (encoded) => decodeEmbind(module, name, encoded) };
}

function loadCodec(name) {
  if (!codecs.has(name)) {
    const loading = instantiateCodec(name);
    loading.catch(() => codecs.delete(name)); // a failed load is tried again next time
    codecs.set(name, loading);
  }
  return codecs.get(name);
}

// One frame through a cornerstone Emscripten decoder: the codestream goes into its heap,
// the decoded frame comes out of it once, into a buffer of its own.
function decodeEmbind(module, name, encoded) {
  const decoder = new module[EMBIND_CLASSES[name]]();
  try {
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    try {
      decoder.decode();
    } catch (error) {
      throw new Error(codecMessage(module, error));
    }
    const info = decoder.getFrameInfo();
    if (name === "charls") info.interleaveMode = decoder.getInterleaveMode();
    return { decoded: decoder.getDecodedBuffer().slice(), info };
  } finally {
    decoder.delete(); // embind objects are not garbage collected
  }
}

// Emscripten throws C++ exceptions as bare numbers (pointers); CharLS can say what they hold.
function codecMessage(module, error) {
  if (typeof error !== "number") return String(error?.message ?? error);
  const generic = "the codec rejected the codestream (corrupt or not what the metadata says)";
  try {
    const message = module.getExceptionMessage?.(error);
    if (message === undefined) return generic;
    return String(typeof message === "string" ? message : message.at(-1));
  } catch {
    return generic;
  }
}

// JPEG lossless (process 14) with jpeg-lossless-decoder-js, into a container of
// `bytesPerSample` bytes a sample.
function decodeJpegLossless(Decoder, encoded, bytesPerSample) {
  let pixels;
  try {
    pixels = new Decoder().decode(encoded.buffer, encoded.byteOffset, encoded.byteLength, bytesPerSample);
  } catch (error) {
    throw new Error(`jpeg-lossless-decoder-js: ${error?.message ?? error}`);
  }
  const bytes = new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return { decoded: whole ? bytes : bytes.slice(), info: null };
}
