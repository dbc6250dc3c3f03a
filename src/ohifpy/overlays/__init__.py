"""Overlays drawn over a source series: DICOM Segmentation (SEG) and RT Structure Sets.

:mod:`~ohifpy.overlays.seg` reads a SEG's segments and frames and gives per-image masks and
per-segment statistics; :mod:`~ohifpy.overlays.rtstruct` reads an RTSTRUCT's ROIs and gives
the contours lying in (or crossing) any image plane, stack or MPR;
:mod:`~ohifpy.overlays.cielab` turns their recommended CIELab colours into sRGB. pydicom and
numpy only: the same code runs in CPython and in the browser's Pyodide worker.
"""
