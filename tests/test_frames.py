"""ohifpy.viewer.frames: decoded frames are cached per source, never mixed between sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ohifpy import synthetic
from ohifpy.datasources.local_files import LocalFilesDataSource
from ohifpy.model import display_sets_from_instances
from ohifpy.viewer.frames import Frames

pytestmark = pytest.mark.cpython_only  # an event loop (pytest-asyncio is not in the Pyodide run)


async def test_the_same_uids_from_two_sources_keep_their_own_pixels(tmp_path: Path) -> None:
    """A local copy edited without new UIDs shows its own pixels, not the cached original's."""
    original = synthetic.ct_study(1).datasets[0]
    edited = synthetic.ct_study(1).datasets[0]
    edited.PixelData = (edited.pixel_array // 2).astype(edited.pixel_array.dtype).tobytes()
    frames = Frames(64 << 20, lambda event, data: None)
    shown = []
    for name, ds in (("pacs", original), ("copy", edited)):
        ds.save_as(tmp_path / f"{name}.dcm", enforce_file_format=True)
        source, _ = await LocalFilesDataSource.from_paths([tmp_path / f"{name}.dcm"], name)
        (instance,) = await source.retrieve_study_instances(str(ds.StudyInstanceUID))
        (display_set,) = display_sets_from_instances([instance])
        shown.append((await frames.get(source, display_set.images[0])).stored)
    assert np.array_equal(shown[0], original.pixel_array)
    assert np.array_equal(shown[1], edited.pixel_array)
    assert len(frames.cache) == 2
