"""The viewer page's Python: the layout preference, thumbnails, cache size."""

from __future__ import annotations

import numpy as np
import pytest

from ohifpy.config import DEFAULT_CACHE_SIZE_MB, AppConfig, ConfigError, DicomWebSource
from ohifpy.hanging import Layout
from ohifpy.model import DisplaySet, ImageRef, Instance
from ohifpy.thumbnail import downsample_rgba, thumbnail_index

SOURCE = {"configuration": {"name": "s", "qidoRoot": "/q", "wadoRoot": "/w"}}


def display_set(study: str, series: str, images: int = 1) -> DisplaySet:
    instance = Instance(study, series, f"{series}.1", "1.2.840.10008.5.1.4.1.1.2", 1, images,
                        4, 4, load_metadata=lambda: None)  # type: ignore[arg-type, return-value]
    return DisplaySet(f"ds-{series}", study, series, "CT", "", None,
                      tuple(ImageRef(instance, n) for n in range(1, images + 1)))


@pytest.mark.parametrize(("text", "layout"), [("2x2", Layout(2, 2)), (" 3 × 4 ", Layout(3, 4)),
                                              ("1x1", Layout(1, 1))])
def test_layout_text(text: str, layout: Layout) -> None:
    assert Layout.parse(text) == layout
    assert Layout.parse(str(layout)) == layout


@pytest.mark.parametrize(("text", "message"), [("4x1", "1 to 3 rows"), ("1x5", "1 to 4 columns"),
                                               ("0x2", "not 0x2"), ("big", "rowsxcolumns")])
def test_bad_layouts_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Layout.parse(text)


def test_thumbnail_is_the_middle_image() -> None:
    assert thumbnail_index(display_set("1", "1", 1)) == 0
    assert thumbnail_index(display_set("1", "1", 30)) == 15
    assert thumbnail_index(display_set("1", "1", 200)) == 100


def test_downsample_averages_blocks_and_keeps_the_aspect() -> None:
    rgba = np.zeros((512, 256, 4), np.uint8)
    rgba[:, :128] = 200
    rgba[..., 3] = 255
    small = downsample_rgba(rgba, 96)
    assert small.shape == (85, 42, 4) and small.dtype == np.uint8  # factor 6
    assert (small[:, :21, 0] == 200).all() and (small[:, 22:, 0] == 0).all()
    assert small[0, 21, 0] == round(200 * 2 / 6)  # the block across the edge is averaged
    assert (small[..., 3] == 255).all()
    tiny = np.full((40, 60, 4), 7, np.uint8)
    assert downsample_rgba(tiny, 96) is tiny
    assert downsample_rgba(np.zeros((1, 2000, 4), np.uint8), 96).shape == (1, 95, 4)
    with pytest.raises(ValueError, match="RGBA"):
        downsample_rgba(np.zeros((4, 4), np.uint8))


def test_cache_size_key() -> None:
    assert AppConfig.from_json({"dataSources": [SOURCE]}).cacheSizeMB == DEFAULT_CACHE_SIZE_MB
    assert AppConfig.from_json({"dataSources": [SOURCE], "cacheSizeMB": 256}).cacheSizeMB == 256
    for bad, message in (("512", "must be an integer"), (True, "must be an integer"),
                         (8, "from 16 to 3072"), (4096, "WebAssembly memory")):
        with pytest.raises(ConfigError, match=message):
            AppConfig.from_json({"dataSources": [SOURCE], "cacheSizeMB": bad})


def test_thumbnail_rendering_is_checked() -> None:
    for value in ("wadors", "rendered", "thumbnail"):
        assert DicomWebSource.from_url("/d", thumbnailRendering=value).thumbnailRendering == value
    with pytest.raises(ConfigError, match="thumbnailRendering must be one of wadors, rendered"):
        DicomWebSource.from_url("/d", thumbnailRendering="jpeg")
