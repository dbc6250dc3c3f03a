"""Runs at the browser runtime's start (``site`` imports it): a fix CPython 3.13 made.

The build puts this file into Pyodide's stdlib zip. Pyodide calls
``importlib.invalidate_caches()`` after every ``loadPackage``, and CPython 3.12's
``zipimporter.invalidate_caches()`` re-reads the whole archive directory at once, for
each of the ~15 importers the stdlib zip has by then (one per imported subpackage): about
150 ms of every start in Chromium. CPython 3.13 (gh-103200) only drops the archive's entry
from ``_zip_directory_cache``, and the next lookup reads the directory again, once. That is
what this does, on 3.12's ``zipimporter``: its ``_files`` becomes a view of the cache.
"""

import sys
import zipimport

if sys.version_info < (3, 13):

    def _files(self: zipimport.zipimporter) -> dict:
        """The archive's directory, read again after an invalidation (3.13's _get_files)."""
        try:
            return zipimport._zip_directory_cache[self.archive]
        except KeyError:
            try:
                files = zipimport._read_directory(self.archive)
            except zipimport.ZipImportError:
                return {}
            zipimport._zip_directory_cache[self.archive] = files
            return files

    def _keep_cache(self: zipimport.zipimporter, files: dict) -> None:
        """3.12's __init__ assigns the entry it has just put in _zip_directory_cache."""

    def _invalidate_caches(self: zipimport.zipimporter) -> None:
        """Invalidates the cache of file data of the archive path (3.13)."""
        zipimport._zip_directory_cache.pop(self.archive, None)

    zipimport.zipimporter._files = property(_files, _keep_cache)
    zipimport.zipimporter.invalidate_caches = _invalidate_caches
