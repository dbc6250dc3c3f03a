"""ohifpy: a DICOMweb imaging viewer core that runs in CPython and in Pyodide."""

__version__ = "0.1.0"
