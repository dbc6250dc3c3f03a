"""A stack's frames from one WADO-RS Retrieve Series response instead of one request each.

The browser spends milliseconds on every request, whatever its size: a 512² CT's 200
frames take it 1–1.5 s fetched one by one from a server that sends them all in 0.2–0.3 s
as one response (Orthanc on loopback, both measured in Chromium). So a stack of
single-frame instances that loads whole (or mostly: see :data:`HELD_SHARE`) is retrieved
as its series, stored syntax, and each instance is decoded into the cache (or its volume)
as soon as it has arrived: only the instance being received is held, never the response.
The instance read from its file also serves as its metadata, instead of converting its
DICOM JSON object.

What the series response does not bring (an instance that could not be read, one added
since the metadata, or every one when the server refuses the request) is then fetched
frame by frame as before, which also reports any error the user should see. A server
that refuses series retrieval (an HTTP error status, or an answer that is no multipart
body) is not asked again; a response cut short or timed out only ends this load's.
Frames that a viewport asks for meanwhile are fetched on their own, not decoded twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING

from ..datasources import DataSource
from ..dicomweb import Frame, HTTPStatusError, MultipartError
from ..dicomweb.limits import PixelDataSize
from ..errors import DATA_ERRORS
from ..image_loader import decode_image_frame, pixel_module
from ..imaging import PixelModule
from ..model import DisplaySet, ImageRef, frame_bytes

if TYPE_CHECKING:
    from .frames import Frames

__all__ = ["MIN_IMAGES", "SeriesRetrieval"]

MIN_IMAGES = 16
"""Below this a stack's frame requests, six at a time, are about as fast as one response."""
HELD_SHARE = 2 / 3
"""A stack larger than the cache loads the images around the one shown: from the series
response (skipping the others) while they are at least this share of it, at most half
again as many bytes downloaded as kept; frame by frame below."""
DECODES_IN_FLIGHT = 4
"""Instances decoding while the response goes on (the codec workers' queue)."""


class SeriesRetrieval:
    """Which stacks load from their series response, and the sources that refused one."""

    def __init__(self) -> None:
        self.refused: set[str] = set()

    def applies(self, display_set: DisplaySet, source: DataSource, held: int) -> bool:
        """Whether ``display_set`` loads from its series response: its source offers
        series retrieval, has not refused it, and the stack is made of at least
        :data:`MIN_IMAGES` single-frame instances of which the cache holds at least
        :data:`HELD_SHARE`."""
        images = display_set.images
        return (source.capabilities.series_retrieve and source.name not in self.refused
                and len(images) >= MIN_IMAGES and held >= HELD_SHARE * len(images)
                and all(image.instance.number_of_frames == 1 for image in images))

    async def run(self, frames: Frames, display_set: DisplaySet, source: DataSource,
                  held: Sequence[int], landed: Callable[[int], None]) -> None:
        """Decode the images ``held`` (their indices) that the series response brings into
        ``frames``, skipping the others; ``landed(index)`` for each. Returns when the
        response has ended (or failed: the rest is left to the frame-by-frame load)."""
        wanted = {display_set.images[index].instance.sop_instance_uid:
                  (index, display_set.images[index]) for index in held}
        sizes = {sop: PixelDataSize(frame_bytes(image)) for sop, (_, image) in wanted.items()}
        slots = asyncio.Semaphore(DECODES_IN_FLIGHT)
        decoding: set[asyncio.Task[None]] = set()
        arrived = False

        async def decode(index: int, image: ImageRef, wado: Frame, whole: bool) -> None:
            try:
                pixel = (PixelModule.from_dataset(image.instance.metadata) if whole
                         else await pixel_module(source, image))
                frame = await frames.fetch_once(
                    source, image, decode_image_frame(source, image, wado, pixel))
            except DATA_ERRORS:
                return  # fetched again on its own, which says why
            finally:
                slots.release()
            if frame is not None:
                landed(index)

        try:
            async with aclosing(source.retrieve_series_frames(
                    display_set.study_instance_uid, display_set.series_instance_uid,
                    sizes)) as instances:
                async for ds, retrieved in instances:
                    arrived = True
                    index, image = wanted.get(str(ds.get("SOPInstanceUID", "")), (-1, None))
                    if (image is None or not retrieved
                            or frames.cached(source, image) is not None):
                        continue
                    whole = image.instance.adopt_metadata(ds)
                    await slots.acquire()
                    task = asyncio.ensure_future(decode(index, image, retrieved[0], whole))
                    decoding.add(task)
                    task.add_done_callback(decoding.discard)
        except HTTPStatusError:
            self.refused.add(source.name)
        except MultipartError:
            if not arrived:  # not a multipart answer (a static tree's file, say): never one
                self.refused.add(source.name)
        except DATA_ERRORS:
            pass  # cut short, timed out, unreadable: the frame-by-frame load goes on from here
        finally:
            if decoding:
                await asyncio.gather(*decoding, return_exceptions=True)

