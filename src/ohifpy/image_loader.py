"""One image of a display set, from its data source to a decoded frame.

This is the step the viewer's worker and ``ohifpy render`` share, so the command
line renders through exactly the viewer's pipeline: bulk data the metadata left at
the source (palettes, LUT data), the frame as stored, the decoder for its transfer
syntax, the modality LUT — and, when no codec exists here for the stored syntax, the
same frame again transcoded by the server (where the source has one).
"""

from __future__ import annotations

from pydicom.uid import ExplicitVRLittleEndian

from .datasources import DataSource
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

__all__ = ["load_image_frame"]


async def load_image_frame(source: DataSource, image: ImageRef) -> ImageFrame:
    """Retrieve and decode ``image``; an unsupported syntax is retried as explicit LE.

    The Image Pixel Module is checked before the frame is fetched (a size no frame may
    have fails here, without a request), and what it says the pixels take bounds the
    response.
    """
    instance = image.instance
    metadata = instance.metadata
    await source.load_bulkdata(metadata)  # fills in and forgets its URIs: fetched once
    pixel = PixelModule.from_dataset(metadata)
    size = PixelDataSize(native_frame_length(pixel), pixel.number_of_frames)
    uids = (instance.study_instance_uid, instance.series_instance_uid, instance.sop_instance_uid)
    (wado,) = await source.retrieve_instance_frames(*uids, [image.frame_number], pixel_size=size)
    syntax = wado.transfer_syntax_uid
    try:
        codec_output = await run_codec(wado.data, syntax, pixel)  # in a codec worker, if any
        return prepare_frame(wado.data, syntax, metadata, image.frame_index,
                             codec_output=codec_output)
    except UnsupportedTransferSyntaxError as unsupported:
        try:
            (wado,) = await source.retrieve_instance_frames(
                *uids, [image.frame_number], transfer_syntax_uid=ExplicitVRLittleEndian,
                pixel_size=size,
            )
        except OhifpyError as exc:
            raise FrameDecodeError(
                unsupported.transfer_syntax_uid,
                f"no decoder is available for it here, and the server did not transcode the "
                f"frame to Explicit VR Little Endian ({exc}); try its /rendered images",
            ) from None
        return prepare_frame(wado.data, wado.transfer_syntax_uid, metadata, image.frame_index)

