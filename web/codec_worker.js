// A codec worker: decodes frames for the Python worker (web/codec_pool.js sends them), so
// decoding runs on every core while Python owns the pipeline and the cache.
//
//   pool -> here   {id, codec, encoded: Uint8Array, bytesPerSample}   (buffer transferred)
//   here -> pool   {id, decoded: Uint8Array, info} | {id, error: message}   (buffer transferred)
"use strict";

importScripts("codecs.js");

self.onmessage = async ({ data: { id, codec, encoded, bytesPerSample } }) => {
  try {
    const { decoded, info } = (await loadCodec(codec)).decode(encoded, bytesPerSample);
    self.postMessage({ id, decoded, info }, [decoded.buffer]);
  } catch (error) {
    self.postMessage({ id, error: String(error?.message ?? error) });
  }
};
