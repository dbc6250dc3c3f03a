"""One image of a display set, from the DICOMweb server to a decoded frame.

This is the step the viewer's worker and ``ohifpy render`` share, so the command
line renders through exactly the viewer's pipeline: bulk data the metadata left on
the server (palettes, LUT data), the WADO-RS frame as stored, the decoder for its
transfer syntax, the modality LUT — and, when no codec exists here for the stored
syntax, the same frame again transcoded by the server.
"""

from __future__ import annotations

from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from .dicomweb import DICOMwebClient, DICOMwebError, Frame
from .imaging import (
    FrameDecodeError,
    ImageFrame,
    UnsupportedTransferSyntaxError,
    load_decoder,
    prepare_frame,
)
from .model import ImageRef

__all__ = ["load_image_frame"]


async def load_image_frame(client: DICOMwebClient, image: ImageRef) -> ImageFrame:
    """Retrieve and decode ``image``; an unsupported syntax is retried as explicit LE."""
    instance = image.instance
    metadata = instance.metadata
    await client.load_bulkdata(metadata)  # fills in and forgets its URIs: fetched once
    uids = (instance.study_instance_uid, instance.series_instance_uid, instance.sop_instance_uid)
    (wado,) = await client.retrieve_instance_frames(*uids, [image.frame_number])
    syntax = _frame_syntax(wado, metadata, client)
    try:
        await load_decoder(syntax)
        return prepare_frame(wado.data, syntax, metadata, image.frame_index)
    except UnsupportedTransferSyntaxError as unsupported:
        try:
            (wado,) = await client.retrieve_instance_frames(
                *uids, [image.frame_number], transfer_syntax_uid=ExplicitVRLittleEndian
            )
        except DICOMwebError as exc:
            raise FrameDecodeError(
                unsupported.transfer_syntax_uid,
                f"no decoder is available for it here, and the server did not transcode the "
                f"frame to Explicit VR Little Endian ({exc}); try its /rendered images",
            ) from None
        return prepare_frame(wado.data, wado.transfer_syntax_uid, metadata, image.frame_index)


def _frame_syntax(wado: Frame, metadata: Dataset, client: DICOMwebClient) -> str:
    """The frame's transfer syntax; a static tree's plain files say it only in the metadata."""
    if client.source.staticWado:
        stored = metadata.get((0x0002, 0x0010))
        if stored is not None and stored.value:
            return str(stored.value)
    return str(wado.transfer_syntax_uid)
