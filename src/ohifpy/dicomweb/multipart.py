"""multipart/related bodies (RFC 2387) as WADO-RS returns and STOW-RS sends them.

WADO-RS answers frames and bulk data as multipart/related, often 100 MB and more for
a multi-frame instance. Parsing therefore only ever calls ``bytes.find`` over the
body and copies each part's content once; no regular expression runs over it.
Servers differ in small ways (quoted or bare boundary, a quoted ``type`` holding
``;`` as Orthanc writes it, bare LF line ends, no multipart at all), and all of
those are accepted; what cannot be parsed raises :class:`MultipartError`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .errors import MultipartError, ResponseTooLarge
from .limits import describe_bytes

__all__ = [
    "MultipartReader",
    "Part",
    "build_multipart_related",
    "parse_media_type",
    "parse_multipart_related",
]

_WHITESPACE = b" \t"
_PADDING_SLACK = 1024
"""How much transport padding (RFC 2046) after a delimiter a reader looks back over."""


@dataclass(frozen=True)
class Part:
    """One body part: its headers (lower-case names) and its content."""

    content: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """Split a Content-Type/Accept value into a lower-case media type and parameters.

    Parameter names are lower-cased; values keep their case with quotes and
    backslash escapes removed. A quoted value may contain ``;`` (Orthanc writes
    ``type="application/octet-stream; transfer-syntax=..."``). Never raises: a
    garbled header gives whatever could be read, so callers report the real problem.
    """
    media_type, _, rest = value.partition(";")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        eq = rest.find("=", i)
        semi = rest.find(";", i)
        if eq < 0 or (0 <= semi < eq):  # a parameter without a value: skip it
            i = n if semi < 0 else semi + 1
            continue
        name = rest[i:eq].strip().lower()
        i = eq + 1
        while i < n and rest[i] in " \t":
            i += 1
        if i < n and rest[i] == '"':
            chars: list[str] = []
            i += 1
            while i < n and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(rest[i])
                i += 1
            param_value = "".join(chars)
            semi = rest.find(";", i)
            i = n if semi < 0 else semi + 1
        else:
            semi = rest.find(";", i)
            end = n if semi < 0 else semi
            param_value = rest[i:end].strip()
            i = end + 1
        if name:
            params[name] = param_value
    return media_type.strip().lower(), params


def _line_end(body: bytes | bytearray, pos: int) -> int:
    """Index just past the line break at ``pos`` (after optional transport padding), or -1."""
    while pos < len(body) and body[pos] in _WHITESPACE:
        pos += 1
    if body.startswith(b"\r\n", pos):
        return pos + 2
    if body.startswith(b"\n", pos):
        return pos + 1
    return -1


def _find_delimiter(body: bytes | bytearray, delimiter: bytes, start: int) -> int:
    """Index of the next ``delimiter`` that starts a line and ends with ``--`` or a line end."""
    pos = start
    while True:
        pos = body.find(delimiter, pos)
        if pos < 0:
            return -1
        after = pos + len(delimiter)
        at_line_start = pos == 0 or body[pos - 1] == 0x0A
        closes_or_ends_line = body.startswith(b"--", after) or _line_end(body, after) >= 0
        if at_line_start and (closes_or_ends_line or after == len(body)):
            return pos
        pos += 1


def _parse_headers(block: bytes, url: str, index: int) -> dict[str, str]:
    headers: dict[str, str] = {}
    name = ""
    for raw in block.decode("latin-1").replace("\r\n", "\n").split("\n"):
        if not raw:
            continue
        if raw[0] in " \t" and name:  # folded continuation line
            headers[name] += " " + raw.strip()
            continue
        name, colon, value = raw.partition(":")
        name = name.strip().lower()
        if not colon or not name:
            raise MultipartError(f"part {index + 1}: malformed header line {raw[:80]!r}", url)
        headers[name] = value.strip()
    return headers


def parse_multipart_related(body: bytes, content_type: str, url: str = "") -> list[Part]:
    """Split a multipart/related body into its parts.

    Parameters
    ----------
    body : bytes
        The whole response body.
    content_type : str
        The response's Content-Type; its ``boundary`` parameter delimits the parts.
        A non-multipart type gives the body back as a single part (some servers
        answer one frame or one bulk data item without multipart wrapping).
    url : str
        Where the body came from, for error messages.

    Raises
    ------
    MultipartError
        No boundary parameter, boundary not in the body, body truncated before the
        closing delimiter, a malformed part, or no parts at all.
    """
    body = bytes(body)
    media_type, params = parse_media_type(content_type)
    if not media_type.startswith("multipart/"):
        if not body:
            raise MultipartError(f"empty {media_type or 'untyped'} body: no parts", url)
        return [Part(body, {"content-type": content_type} if content_type else {})]
    delimiter = _delimiter(content_type, params, url)
    pos = _find_delimiter(body, delimiter, 0)
    if pos < 0:
        raise MultipartError(f"boundary {params['boundary']!r} not found in the body", url)
    parts: list[Part] = []
    while True:
        after = pos + len(delimiter)
        if body.startswith(b"--", after):  # close delimiter; the rest is epilogue
            break
        start = _line_end(body, after)
        if start < 0:
            raise MultipartError(
                f"truncated body: delimiter of part {len(parts) + 1} is not followed by a line end",
                url,
            )
        pos = _find_delimiter(body, delimiter, start)
        if pos < 0:
            raise MultipartError(
                f"truncated body: no closing delimiter after part {len(parts) + 1}", url
            )
        end = pos - 2 if body[pos - 2 : pos] == b"\r\n" else pos - 1
        parts.append(_split_part(body, start, max(end, start), url, len(parts)))
    if not parts:
        raise MultipartError("multipart body has no parts", url)
    return parts


def _delimiter(content_type: str, params: Mapping[str, str], url: str) -> bytes:
    """The delimiter line of a multipart Content-Type: ``--`` and its boundary."""
    boundary = params.get("boundary", "")
    if not boundary:
        raise MultipartError(f"Content-Type {content_type!r} has no boundary parameter", url)
    return b"--" + boundary.encode("latin-1", "replace")


class MultipartReader:
    """The parts of a multipart/related body as its chunks arrive.

    A whole series retrieved in one response (WADO-RS Retrieve Series) is hundreds of MB:
    each part is handed on as soon as its closing delimiter has arrived, so only the part
    being received is held, never the body. ``max_part_bytes`` bounds that part (the
    largest instance the metadata allows): a part that passes it raises
    :class:`~ohifpy.dicomweb.errors.ResponseTooLarge`. The same server quirks as
    :func:`parse_multipart_related` are accepted.
    """

    def __init__(self, content_type: str, url: str = "", max_part_bytes: int | None = None):
        media_type, params = parse_media_type(content_type)
        if not media_type.startswith("multipart/"):
            raise MultipartError(f"expected a multipart body, not {media_type or 'an untyped one'}",
                                 url)
        self.url = url
        self.delimiter = _delimiter(content_type, params, url)
        self.max_part_bytes = max_part_bytes
        self.count = 0
        self.closed = False
        self._buffer = bytearray()
        self._started = False  # the first delimiter (after any preamble) has been read
        self._scanned = 0  # where the search for the next delimiter goes on from

    def feed(self, chunk: bytes) -> list[Part]:
        """Take the next bytes of the body; answers the parts they complete."""
        if self.closed:
            return []  # the epilogue
        self._buffer += chunk
        parts: list[Part] = []
        while not self.closed:
            pos = _find_delimiter(self._buffer, self.delimiter, self._scanned)
            after = pos + len(self.delimiter)
            if pos < 0 or after + 2 > len(self._buffer):  # what follows it decides
                slack = len(self.delimiter) + _PADDING_SLACK
                self._scanned = max(0, len(self._buffer) - slack)
                self._check_size()
                break
            if self._started:
                end = pos - 2 if self._buffer[pos - 2 : pos] == b"\r\n" else pos - 1
                parts.append(_split_part(self._buffer, 0, max(end, 0), self.url, self.count))
                self.count += 1
            if self._buffer.startswith(b"--", after):
                self.closed = True
                self._buffer = bytearray()
                break
            start = _line_end(self._buffer, after)
            if start < 0:  # transport padding up to the end of what has come
                self._scanned = pos
                break
            del self._buffer[:start]
            self._started, self._scanned = True, 0
        return parts

    def close(self) -> None:
        """The body ended: a missing close delimiter means it was cut short."""
        if not self.closed:
            raise MultipartError(
                f"truncated body: no closing delimiter after part {self.count + 1}", self.url
            )
        if not self.count:
            raise MultipartError("multipart body has no parts", self.url)

    def _check_size(self) -> None:
        if self.max_part_bytes is not None and len(self._buffer) > self.max_part_bytes:
            raise ResponseTooLarge(
                f"GET stopped: part {self.count + 1} is larger than its limit of "
                f"{describe_bytes(self.max_part_bytes)}",
                self.url,
                self.max_part_bytes,
            )


def _split_part(body: bytes | bytearray, start: int, end: int, url: str, index: int) -> Part:
    """Separate a part's header block from its content at the first empty line (the
    content copied once, whether the body is ``bytes`` or a reader's ``bytearray``)."""
    if body.startswith(b"\r\n", start, end) or body.startswith(b"\n", start, end):
        return Part(bytes(memoryview(body)[_line_end(body, start) : end]), {})
    blank = body.find(b"\n\r\n", start, end)
    bare_lf_blank = body.find(b"\n\n", start, end if blank < 0 else blank + 1)
    if bare_lf_blank >= 0:
        blank = bare_lf_blank
    if blank < 0:
        raise MultipartError(f"part {index + 1} has no empty line between headers and content", url)
    content_start = _line_end(body, blank + 1)
    return Part(bytes(memoryview(body)[content_start:end]),
                _parse_headers(bytes(body[start:blank]), url, index))


def build_multipart_related(
    contents: Sequence[bytes], part_type: str, *, quote_type: bool = True
) -> tuple[bytes, str]:
    """Encode ``contents`` as one multipart/related body, each part of type ``part_type``.

    Returns the body and its Content-Type. The boundary is random and checked
    against every part, so content can never end a part early.
    ``quote_type=False`` writes ``type=`` unquoted for servers that reject quotes
    (OHIF's ``omitQuotationForMultipartRequest``).
    """
    boundary = uuid.uuid4().hex
    while any(boundary.encode() in c for c in contents):
        boundary = uuid.uuid4().hex
    delimiter = b"--" + boundary.encode()
    header = delimiter + b"\r\nContent-Type: " + part_type.encode("latin-1") + b"\r\n\r\n"
    chunks: list[bytes] = []
    for content in contents:
        chunks += [header, content, b"\r\n"]
    chunks.append(delimiter + b"--\r\n")
    type_param = f'"{part_type}"' if quote_type else part_type
    return b"".join(chunks), f"multipart/related; type={type_param}; boundary={boundary}"
