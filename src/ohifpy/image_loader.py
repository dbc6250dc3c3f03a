"""One image of a display set, from its data source to a decoded frame.

This is the step the viewer's worker and ``ohifpy render`` share, so the command
line renders through exactly the viewer's pipeline: bulk data the metadata left at
the source (palettes, LUT data), the frame as stored, the decoder for its transfer
syntax, the modality LUT — and, when no codec exists here for the stored syntax, the
same frame again transcoded by the server (where the source has one). Frames of one
multi-frame instance may come several in one request (:func:`retrieve_image_frames`),
each then decoded on its own, so a frame that cannot be decoded fails alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydicom.uid import ExplicitVRLittleEndian

from .datasources import DataSource
from .dicomweb import Frame
from .dicomweb.limits import PixelDataSize
from .errors import OhifpyError
from .imaging import (
    FrameDecodeError,
    ImageFrame,
    PixelModule,
    UnsupportedTransferSyntaxError,
    prepare_frame,
    run_codec,
)
from .imaging.codecs import native_frame_length
from .model import ImageRef

__all__ = ["decode_image_frame", "load_image_frame", "pixel_module", "retrieve_image_frames"]


async def load_image_frame(source: DataSource, image: ImageRef) -> ImageFrame:
    """Retrieve and decode ``image`` (see :func:`decode_image_frame`).

    The Image Pixel Module is checked before the frame is fetched (a size no frame may
    have fails here, without a request), and what it says the pixels take bounds the
    response.
    """
    pixel, (wado,) = await retrieve_image_frames(source, [image])
    return await decode_image_frame(source, image, wado, pixel)


async def retrieve_image_frames(
    source: DataSource, images: Sequence[ImageRef]
) -> tuple[PixelModule, list[Frame]]:
    """Frames of one instance in one request, as retrieved, and the Image Pixel Module
    that decodes them (:func:`decode_image_frame`, each on its own)."""
    pixel = await pixel_module(source, images[0])
    if len({image.instance.sop_instance_uid for image in images}) > 1:
        raise ValueError("frames retrieved together must be of one instance")
    size = PixelDataSize(native_frame_length(pixel), pixel.number_of_frames)
    wados = await source.retrieve_instance_frames(
        *_uids(images[0]), [image.frame_number for image in images], pixel_size=size)
    return pixel, wados


async def pixel_module(source: DataSource, image: ImageRef) -> PixelModule:
    """The image's Image Pixel Module, once the bulk data its display needs is in."""
    metadata = image.instance.metadata
    await source.load_bulkdata(metadata)  # fills in and forgets its URIs: fetched once
    return PixelModule.from_dataset(metadata)


async def decode_image_frame(
    source: DataSource, image: ImageRef, wado: Frame, pixel: PixelModule
) -> ImageFrame:
    """Decode ``image``'s retrieved frame; an unsupported syntax is retrieved again as
    explicit LE, where the server transcodes."""
    metadata = image.instance.metadata
    syntax = wado.transfer_syntax_uid
    try:
        codec_output = await run_codec(wado.data, syntax, pixel)  # in a codec worker, if any
        return prepare_frame(wado.data, syntax, metadata, image.frame_index,
                             codec_output=codec_output, pixel=pixel)
    except UnsupportedTransferSyntaxError as unsupported:
        size = PixelDataSize(native_frame_length(pixel), pixel.number_of_frames)
        try:
            (wado,) = await source.retrieve_instance_frames(
                *_uids(image), [image.frame_number], transfer_syntax_uid=ExplicitVRLittleEndian,
                pixel_size=size,
            )
        except OhifpyError as exc:
            raise FrameDecodeError(
                unsupported.transfer_syntax_uid,
                f"no decoder is available for it here, and the server did not transcode the "
                f"frame to Explicit VR Little Endian ({exc}); try its /rendered images",
            ) from None
        return prepare_frame(wado.data, wado.transfer_syntax_uid, metadata, image.frame_index,
                             pixel=pixel)


def _uids(image: ImageRef) -> tuple[str, str, str]:
    instance = image.instance
    return (instance.study_instance_uid, instance.series_instance_uid,
            instance.sop_instance_uid)
