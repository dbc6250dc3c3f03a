"""Rewrite a wheel or Python zip for the browser: precompile to .pyc, drop unused files.

Pyodide never writes bytecode, so every import in the browser would compile its source
again; shipping ``.pyc`` in place of ``.py`` (what ``pyodide py-compile`` does for
Pyodide's own packages) removes that cost from every cold start.

The bytecode must come from the interpreter that runs it (CPython 3.12 in Pyodide
0.27.7), so :func:`rewrite_archive` runs inside Pyodide under Node
(``scripts/pyodide_node.mjs``) when compiling, and under the build's own CPython when
only dropping files. The ``.pyc`` are unchecked-hash based: no source mtime inside, so
the same input gives byte-identical output and a stable sha256 in the lock.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import io
import os
import py_compile
import tempfile
import zipfile

__all__ = ["rewrite_archive"]


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _new_member(name: str) -> zipfile.ZipInfo:
    """A member the rewrite writes itself: fixed date, so the output stays reproducible."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _compile(source: bytes, dfile: str, workdir: str) -> bytes:
    """Bytecode for ``source`` as the running interpreter would cache it."""
    src = os.path.join(workdir, "module.py")
    dst = os.path.join(workdir, "module.pyc")
    with open(src, "wb") as fh:
        fh.write(source)
    py_compile.compile(
        src,
        cfile=dst,
        dfile=dfile,
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    with open(dst, "rb") as fh:
        return fh.read()


def rewrite_archive(
    path: str,
    *,
    compile_py: bool,
    dfile_prefix: str = "",
    drop: tuple[str, ...] | list[str] = (),
    wheel_tag: str = "",
    add: dict[str, str] | None = None,
) -> dict[str, int]:
    """Rewrite the zip at ``path`` in place.

    Parameters
    ----------
    path
        A wheel (``.whl``) or a zip of modules (``python_stdlib.zip``).
    compile_py
        Replace every ``.py`` with its ``.pyc`` (a file that does not compile keeps its
        source, so a stray Python 2 file cannot stop the build).
    dfile_prefix
        Where the archive's contents live at run time (``/lib/python3.12/site-packages/``),
        so tracebacks name the real path.
    drop
        Members whose name matches one of these ``fnmatch`` patterns (``*`` crosses
        ``/``) are left out: test data, C headers and type stubs the viewer never reads.
    wheel_tag
        New ``Tag`` for the wheel's WHEEL file (``cp312-none-any`` once the wheel holds
        CPython 3.12 bytecode).
    add
        Members to add, name -> source text (compiled like the rest): the runtime's own
        ``sitecustomize.py`` in the stdlib zip.

    Returns
    -------
    dict
        Counts: ``compiled``, ``kept_source`` (did not compile), ``dropped``.

    A wheel's RECORD is regenerated from the files actually written, as installers
    check it.
    """
    counts = {"compiled": 0, "kept_source": 0, "dropped": 0}
    with open(path, "rb") as fh:
        original = fh.read()
    out = io.BytesIO()
    records: list[tuple[str, bytes]] = []
    record_name = ""
    with (
        zipfile.ZipFile(io.BytesIO(original)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
        tempfile.TemporaryDirectory() as workdir,
    ):
        added = [
            (_new_member(name), text.encode("utf-8"))
            for name, text in sorted((add or {}).items())
        ]
        for info, added_data in [*((info, None) for info in src.infolist()), *added]:
            name = info.filename
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in drop):
                counts["dropped"] += 1
                continue
            data = src.read(info) if added_data is None else added_data
            if name.endswith(".dist-info/RECORD"):
                record_name = name
                continue
            if wheel_tag and name.endswith(".dist-info/WHEEL"):
                lines = data.decode("utf-8").splitlines()
                data = "".join(
                    (f"Tag: {wheel_tag}" if line.startswith("Tag:") else line) + "\n"
                    for line in lines
                ).encode("utf-8")
            if compile_py and name.endswith(".py"):
                try:
                    data = _compile(data, dfile_prefix + name, workdir)
                    name += "c"
                    counts["compiled"] += 1
                except py_compile.PyCompileError:
                    counts["kept_source"] += 1
            new_info = zipfile.ZipInfo(name, date_time=info.date_time)
            new_info.external_attr = info.external_attr
            new_info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(new_info, data)
            if not name.endswith("/"):
                records.append((name, data))
        if record_name:
            lines = [f"{n},{_record_hash(d)},{len(d)}" for n, d in records]
            lines.append(f"{record_name},,")
            dst.writestr(_new_member(record_name), "\n".join(lines) + "\n")
    with open(path, "wb") as fh:
        fh.write(out.getvalue())
    return counts
