"""Decoded frames: a byte-bounded cache, fetches in flight, and the loading of whole stacks.

A window/level drag re-renders from a cached :class:`~ohifpy.imaging.ImageFrame` (one
table lookup per pixel) instead of fetching and decoding again. A stack loads nearest
its displayed image first; each fetch runs as a task of its own, so a cancelled load
never cancels a render that waits on the same frame. Frames of one multi-frame instance
load several a request where the source serves that (``framesPerRequest``): one request
instead of one a frame, each frame still decoded, kept and failing on its own.

The frames of a reconstructable display set are held in its :class:`~ohifpy.volume.Volume`
(the one copy MPR and the stack view share), which the cache holds as one entry: used
whenever one of its frames is, and let go whole.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..datasources import DataSource
from ..dicomweb import Frame
from ..errors import DATA_ERRORS
from ..image_loader import decode_image_frame, load_image_frame, retrieve_image_frames
from ..imaging import ImageFrame, PixelModule
from ..lru import SizedLRU
from ..model import DisplaySet, ImageRef, describe, frame_bytes
from ..volume import Volume, VolumeError, VolumeGeometry
from .series_retrieve import SeriesRetrieval

__all__ = ["DEFAULT_CACHE_BYTES", "LOAD_CONCURRENCY", "FrameCache", "Frames"]

DEFAULT_CACHE_BYTES = 512 * 1024 * 1024
"""Decoded frames kept for re-rendering before the config's ``cacheSizeMB`` applies: a
200-slice 512x512 CT takes 100 MB."""
LOAD_CONCURRENCY = 6
"""Frame requests in flight while loading a series (what browsers allow per host)."""
REQUEST_BYTES = 16 * 1024 * 1024
"""What the frames of one request for several (``framesPerRequest``) may take decoded: 32
slices of 512x512 at 16 bits, one 2048x2048 RGB frame. Six such requests in flight stay
small beside the browser's 4 GiB heap, and more frames a request gain little once each
is this large (benchmarks/bench_frames_batch.py)."""
HOLD_SHARE = 0.75
"""The share of the cache one series' load may fill (the rest: the other viewports' images
and renders); at least half, so every volume the cache makes is loaded whole."""

Emit = Callable[[str, dict[str, Any]], None]
FrameKey = tuple[str, str, int]


def frame_key(source: DataSource, image: ImageRef) -> FrameKey:
    """A frame's identity whatever display set shows it: its source, SOP instance and frame.

    The source is part of it: two sources may hold different pixels under one UID (a
    study's local copy edited without new UIDs, a demo built from the same generator).
    """
    return (source.name, image.instance.sop_instance_uid, image.frame_number)


@runtime_checkable
class HeldFrames(Protocol):
    """A source whose frames are held decoded, never fetched (the Python console's images,
    :class:`ohifpy.viewer.console_images.ConsoleImages`)."""

    def holds(self, image: ImageRef) -> bool: ...

    def frame(self, image: ImageRef) -> ImageFrame: ...


class FrameCache(SizedLRU[FrameKey, ImageFrame | Volume]):
    """Decoded frames and volumes by key, least recently used dropped first beyond
    ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(max_bytes, lambda value: value.nbytes if isinstance(value, Volume)
                         else value.stored.nbytes)


def volume_key(source: DataSource, display_set_uid: str) -> FrameKey:
    return (source.name, f"volume:{display_set_uid}", 0)


class Frames:
    """The frames of open display sets: cached, being fetched, or loading with their stack.

    ``emit(event, data)`` reports ``progress`` of stack loads to the page.
    """

    def __init__(self, cache_bytes: int, emit: Emit) -> None:
        self.cache = FrameCache(cache_bytes)
        self.emit = emit
        self._pending: dict[FrameKey, asyncio.Task[ImageFrame]] = {}
        self._loads: dict[str, asyncio.Task[dict[str, Any]]] = {}
        self.viewport_loads: dict[str, asyncio.Task[dict[str, Any]]] = {}
        # Reconstructable display sets: the volume slice of each of their frames.
        self._slots: dict[FrameKey, tuple[str, int]] = {}
        self._geometries: dict[str, tuple[VolumeGeometry, DataSource]] = {}
        self.series_retrieval = SeriesRetrieval()

    def track(self, display_set: DisplaySet, source: DataSource) -> str | None:
        """Hold a reconstructable display set's frames in a volume as they load; None, or
        why not.

        A volume is allocated whole with its first frame, so one that would take more
        than half the cache's budget is not made: it would push every other series out
        (and be pushed out by the next one) while still mostly empty.
        """
        uid = display_set.display_set_uid
        if uid in self._geometries:
            return None
        if not display_set.is_image:
            return f"a {display_set.kind.upper()} is no image stack"
        if not display_set.is_reconstructable:
            return display_set.reconstruction.reason or "not a volume"
        try:
            geometry = VolumeGeometry.from_display_set(display_set)
        except VolumeError as exc:
            return str(exc)
        first = display_set.images[0].instance
        size = int(np.prod(geometry.shape)) * max(first.bits_allocated // 8, 1)
        if size > self.cache.max_bytes // 2:
            return (f"its volume ({size >> 20} MB) needs a cache of at least {size >> 19} MB "
                    f"(cacheSizeMB is {self.cache.max_bytes >> 20})")
        self._geometries[uid] = (geometry, source)
        for image, slot in zip(display_set.images, geometry.slots, strict=True):
            self._slots[frame_key(source, image)] = (uid, slot)
        return None

    def forget(self, display_set_uids: Iterable[str]) -> None:
        """Let go of the volumes of display sets no longer open."""
        for uid in display_set_uids:
            entry = self._geometries.pop(uid, None)
            if entry is not None:
                self.cache.pop(volume_key(entry[1], uid))
                self._slots = {k: v for k, v in self._slots.items() if v[0] != uid}

    def geometry(self, display_set_uid: str) -> VolumeGeometry | None:
        entry = self._geometries.get(display_set_uid)
        return None if entry is None else entry[0]

    def volume(self, display_set_uid: str) -> Volume | None:
        """The volume of a tracked display set, once a frame of it has loaded."""
        entry = self._geometries.get(display_set_uid)
        if entry is None:
            return None
        volume = self.cache.get(volume_key(entry[1], display_set_uid))
        return volume if isinstance(volume, Volume) else None

    def cached(self, source: DataSource, image: ImageRef) -> ImageFrame | None:
        """The decoded frame if it is at hand (in the cache or its volume), else None."""
        key = frame_key(source, image)
        slot = self._slots.get(key)
        volume = None if slot is None else self.volume(slot[0])
        if volume is not None and (frame := volume.frame(slot[1])) is not None:
            return frame
        frame = self.cache.get(key)
        return frame if isinstance(frame, ImageFrame) else None

    async def get(self, source: DataSource, image: ImageRef) -> ImageFrame:
        """The decoded frame: from the cache, a fetch already running, or a new one."""
        key = frame_key(source, image)
        frame = self.cached(source, image)
        if frame is not None:
            return frame
        task = self._pending.get(key)
        if task is None:
            task = self._start(key, self._fetch(source, image))
        return await asyncio.shield(task)

    async def fetch_once(self, source: DataSource, image: ImageRef,
                         decoded: Coroutine[Any, Any, ImageFrame]) -> ImageFrame | None:
        """Keep the frame ``decoded`` makes (retrieved by other means than :meth:`get`,
        e.g. a whole series' response), unless it is at hand or being fetched already:
        then None, and ``decoded`` is not run."""
        key = frame_key(source, image)
        if key in self._pending or self.cached(source, image) is not None:
            decoded.close()
            return None

        async def keep() -> ImageFrame:
            return self._keep(source, image, await decoded)

        return await asyncio.shield(self._start(key, keep()))

    def _start(self, key: FrameKey, fetch: Coroutine[Any, Any, ImageFrame]
               ) -> asyncio.Task[ImageFrame]:
        """A frame's fetch as a task of its own, which later requests for it await."""
        task = asyncio.ensure_future(fetch)
        self._pending[key] = task
        task.add_done_callback(lambda done: self._settled(key, done))
        return task

    def _settled(self, key: FrameKey, task: asyncio.Task[ImageFrame]) -> None:
        self._pending.pop(key, None)
        if not task.cancelled():
            task.exception()  # seen: whoever awaited it got it (a cancelled load may not have)

    async def _fetch(self, source: DataSource, image: ImageRef) -> ImageFrame:
        """Retrieve, decode and cache one frame (the pipeline ``ohifpy render`` uses too);
        a tracked display set's goes into its volume."""
        if isinstance(source, HeldFrames):  # decoded already: into its volume, or cached
            frame = source.frame(image)
        else:
            frame = await load_image_frame(source, image)
        return self._keep(source, image, frame)

    def _fetch_together(self, source: DataSource, images: list[ImageRef]
                        ) -> dict[FrameKey, asyncio.Task[ImageFrame]]:
        """The fetches of ``images`` (frames of one instance) under way, once those neither
        at hand nor being fetched are, if more than one, in one request: each decoded and
        kept by a task of its own, which :meth:`get` awaits as any other. (A failed one is
        no longer under way: awaited here, it is not fetched again.)"""
        missing = [image for image in images if frame_key(source, image) not in self._pending
                   and self.cached(source, image) is None]
        if len(missing) > 1:  # else get fetches it as ever
            request = asyncio.ensure_future(retrieve_image_frames(source, missing))
            for part, image in enumerate(missing):
                self._start(frame_key(source, image),
                            self._fetch_part(source, image, request, part))
        keys = [frame_key(source, image) for image in images]
        return {key: self._pending[key] for key in keys if key in self._pending}

    async def _fetch_part(self, source: DataSource, image: ImageRef,
                          request: asyncio.Future[tuple[PixelModule, list[Frame]]],
                          part: int) -> ImageFrame:
        """One frame of a request for several, decoded and kept; when the request failed
        whole, fetched alone (so that only a frame at fault fails, with its own error)."""
        try:
            pixel, wados = await asyncio.shield(request)
        except DATA_ERRORS:
            return await self._fetch(source, image)
        return self._keep(source, image,
                          await decode_image_frame(source, image, wados[part], pixel))

    def _keep(self, source: DataSource, image: ImageRef, frame: ImageFrame) -> ImageFrame:
        """Cache a decoded frame, in its volume if it has one: the frame to render."""
        key = frame_key(source, image)
        slot = self._slots.get(key)
        if slot is not None and not frame.is_color:
            uid, index = slot
            volume = self.volume(uid)
            if volume is None:
                volume = Volume(self._geometries[uid][0], frame)
                self.cache.put(volume_key(source, uid), volume)
            size = volume.nbytes
            try:
                view = volume.put(index, frame)
            except VolumeError:
                pass  # a frame unlike the others: cached on its own
            else:
                if volume.nbytes != size:  # widened: weighed again
                    self.cache.put(volume_key(source, uid), volume)
                return view
        self.cache.put(key, frame)
        return frame

    async def whole_volume(self, display_set: DisplaySet, source: DataSource) -> Volume:
        """A reconstructable display set's volume with every image loaded into it (what
        a console cell's ``viewer.volume`` reads); VolumeError says why there is none."""
        uid = display_set.display_set_uid
        if self.geometry(uid) is None and (reason := self.track(display_set, source)):
            raise VolumeError(reason)
        volume = self.volume(uid)
        if volume is None or not volume.complete:
            await self.load(display_set, source, 0, LOAD_CONCURRENCY)
            volume = self.volume(uid)
        geometry = self._geometries[uid][0]
        missing = [index for index, slot in enumerate(geometry.slots)
                   if volume is None or not volume.loaded[slot]]
        if volume is None or missing:
            await self.get(source, display_set.images[missing[0]])  # its own error, if any
            raise VolumeError(f"image {missing[0]} is unlike the others (kind or size) and "
                              "has no place in its volume")
        return volume

    def holdable(self, display_set: DisplaySet) -> int:
        """How many of a display set's images a load keeps decoded: all, unless they would
        take more than :data:`HOLD_SHARE` of the cache; then as many as fit, nearest the
        image shown (a load that went on would push out the first ones it loaded, those
        the user looks at)."""
        sizes = [frame_bytes(image) for image in display_set.images]
        budget, held = int(self.cache.max_bytes * HOLD_SHARE), 0
        for size in sizes:
            budget -= size
            if budget < 0:
                break
            held += 1
        return max(held, min(1, len(sizes)))

    def hold_note(self, display_set: DisplaySet, held: int) -> str:
        """Why a series is not held whole, as the viewer says it."""
        whole = sum(frame_bytes(image) for image in display_set.images)
        name = describe(display_set)
        return (f"{name[0].upper()}{name[1:]} has {len(display_set.images):,} images "
                f"({whole / 2**20:,.0f} MB decoded), more than the frame cache holds "
                f"({self.cache.max_bytes / 2**20:,.0f} MB, cacheSizeMB): the {held:,} around "
                "the image shown are loaded, the others as you scroll to them.")

    def all_cached(self, display_set: DisplaySet, source: DataSource) -> bool:
        return all(self.cached(source, image) is not None for image in display_set.images)

    async def load(
        self, display_set: DisplaySet, source: DataSource, start_index: int, concurrency: int
    ) -> dict[str, Any]:
        """Fetch and decode every image of a display set into the cache, nearest first.

        A frame that fails is counted and skipped (its viewport shows the error when it
        is displayed). A new load of the same display set, or :meth:`cancel`, stops this
        one: the answer then has ``cancelled: true``.
        """
        uid = display_set.display_set_uid
        total = len(display_set.images)
        start = min(max(int(start_index), 0), total - 1)
        nearest = sorted(range(total), key=lambda i: (abs(i - start), i))
        held = self.holdable(display_set)
        retrieved: set[int] = set()  # by the series response
        queue = deque(nearest[:held])
        size = 1  # the image shown comes alone, as soon as ever
        state = {"loaded": 0, "failed": 0}
        counts = {"displaySetUID": uid, "total": total, "held": held}
        if held < total:
            self.emit("progress", {**counts, **state, "note": self.hold_note(display_set, held)})

        def landed(index: int) -> None:
            retrieved.add(index)
            state["loaded"] += 1
            self.emit("progress", {**counts, **state})

        async def worker() -> None:
            nonlocal size
            while batch := _take(queue, display_set.images, retrieved, size):
                size = source.capabilities.frames_per_request  # read again: it may drop to 1
                fetches = self._fetch_together(source, batch)
                for image in batch:
                    fetch = fetches.get(frame_key(source, image))
                    try:
                        await (self.get(source, image) if fetch is None else asyncio.shield(fetch))
                        state["loaded"] += 1
                    except DATA_ERRORS:  # counted: its viewport says why when shown
                        state["failed"] += 1
                    self.emit("progress", {**counts, **state})

        async def run() -> dict[str, Any]:
            if self.series_retrieval.applies(display_set, source, held):
                await self.series_retrieval.run(self, display_set, source, nearest[:held],
                                                landed)
            await asyncio.gather(*(worker() for _ in range(max(1, int(concurrency)))))
            return {**counts, "cancelled": False, **state}

        await self.cancel(uid)
        task = asyncio.ensure_future(run())
        self._loads[uid] = task
        try:
            return await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # this request itself was cancelled, not the load
            return {"displaySetUID": uid, "total": total, "cancelled": True, **state}
        finally:
            if self._loads.get(uid) is task:
                del self._loads[uid]

    async def cancel(self, display_set_uid: str) -> bool:
        """Stop loading a display set; frames already requested still land in the cache."""
        task = self._loads.pop(display_set_uid, None)
        if task is not None and not task.done():
            task.cancel()
            await asyncio.sleep(0)  # let it unwind before the caller goes on
            return True
        return False

    async def stop(self, display_set_uids: Iterable[str]) -> None:
        """Stop every load of these display sets (no longer shown, or closed)."""
        for uid in list(display_set_uids):
            task = self.viewport_loads.pop(uid, None)
            if task is not None:
                task.cancel()
            await self.cancel(uid)

    async def load_viewports(
        self, wanted: Mapping[str, tuple[DisplaySet, DataSource, int]], start: bool
    ) -> list[str]:
        """Load the stacks viewports show (display set UID -> set, source, image index),
        stop the loads of the others; answers the display sets now loading."""
        await self.stop([uid for uid in self.viewport_loads if uid not in wanted])
        concurrency = max(2, LOAD_CONCURRENCY // max(1, len(wanted)))
        for uid, (display_set, source, index) in wanted.items() if start else ():
            running = self.viewport_loads.get(uid)
            if running is not None and not running.done():
                continue
            if self.all_cached(display_set, source):  # no load, but the page learns it is done
                total = len(display_set.images)
                self.emit("progress", {"displaySetUID": uid, "total": total, "loaded": total,
                                       "failed": 0})
                continue
            task = asyncio.ensure_future(self.load(display_set, source, index, concurrency))
            task.add_done_callback(_report_failure)
            self.viewport_loads[uid] = task
        return sorted(u for u, t in self.viewport_loads.items() if not t.done())


def _take(queue: deque[int], images: Sequence[ImageRef], skip: set[int],
          size: int) -> list[ImageRef]:
    """The images a load fetches next in one request: the first of ``queue`` (image
    indices in load order) and those after it of the same instance, at most ``size`` and
    :data:`REQUEST_BYTES` decoded; indices in ``skip`` (loaded otherwise) are dropped."""
    batch: list[ImageRef] = []
    budget = REQUEST_BYTES
    while queue and len(batch) < size:
        if queue[0] in skip:
            queue.popleft()
            continue
        image = images[queue[0]]
        budget -= frame_bytes(image)
        if batch and (budget < 0 or image.instance.sop_instance_uid
                      != batch[0].instance.sop_instance_uid):
            break
        batch.append(image)
        queue.popleft()
    return batch


def _report_failure(task: asyncio.Task[Any]) -> None:
    """A background load's unexpected failure, printed (nobody awaits the task)."""
    if not task.cancelled() and task.exception() is not None:
        traceback.print_exception(task.exception(), file=sys.stderr)
