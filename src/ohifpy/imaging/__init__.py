"""The pixel pipeline: frame bytes -> stored values -> modality -> VOI -> colour -> RGBA.

The same code renders in CPython (``ohifpy render``) and in the browser
worker, whose WebAssembly codecs load on first use (:func:`set_decoder_loader`).
No I/O happens here: frames and metadata come in as bytes and Datasets.
"""

from ohifpy.imaging.codecs import (
    DecodedFrame,
    FrameDecodeError,
    FrameDecoder,
    UnsupportedTransferSyntaxError,
    decode_frame,
    get_decoder,
    load_decoder,
    register_decoder,
    run_codec,
    set_decoder_loader,
)
from ohifpy.imaging.color import PaletteColorLUT
from ohifpy.imaging.lut import LookupTable, LUTError
from ohifpy.imaging.modality import ModalityTransform
from ohifpy.imaging.pixel_module import PixelModule, PixelModuleError
from ohifpy.imaging.render import (
    ImageFrame,
    missing_display_attributes,
    prepare_frame,
    render_frame,
    render_rgba,
)
from ohifpy.imaging.voi import VOIWindow, voi_windows

__all__ = [
    "DecodedFrame",
    "FrameDecodeError",
    "FrameDecoder",
    "ImageFrame",
    "LUTError",
    "LookupTable",
    "ModalityTransform",
    "PaletteColorLUT",
    "PixelModule",
    "PixelModuleError",
    "UnsupportedTransferSyntaxError",
    "VOIWindow",
    "decode_frame",
    "get_decoder",
    "load_decoder",
    "missing_display_attributes",
    "prepare_frame",
    "register_decoder",
    "render_frame",
    "render_rgba",
    "run_codec",
    "set_decoder_loader",
    "voi_windows",
]
