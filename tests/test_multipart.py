"""multipart/related parsing and building (ohifpy.dicomweb.multipart)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ohifpy.dicomweb import MultipartError, Part, parse_multipart_related
from ohifpy.dicomweb.multipart import build_multipart_related, parse_media_type

URL = "http://server/frames/1"


def related(
    parts: list[tuple[dict[str, str], bytes]],
    boundary: str = "b0und",
    *,
    eol: bytes = b"\r\n",
    preamble: bytes = b"",
    epilogue: bytes = b"",
) -> bytes:
    """A multipart body written by hand, so the parser is not only tested against its twin."""
    out = [preamble]
    for headers, content in parts:
        out.append(b"--" + boundary.encode() + eol)
        out += [f"{k}: {v}".encode() + eol for k, v in headers.items()]
        out += [eol, content, eol]
    out.append(b"--" + boundary.encode() + b"--" + eol + epilogue)
    return b"".join(out)


FRAME_TYPE = "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"


def test_two_parts_with_headers_crlf():
    body = related(
        [
            ({"Content-Type": FRAME_TYPE, "Content-Location": "http://s/frames/1"}, b"\x00\x01"),
            ({"Content-Type": "image/jpeg"}, b"\xff\xd8\xff\xd9"),
        ]
    )
    parts = parse_multipart_related(
        body, 'multipart/related; type="application/octet-stream"; boundary=b0und'
    )
    assert [p.content for p in parts] == [b"\x00\x01", b"\xff\xd8\xff\xd9"]
    assert parts[0].headers == {"content-type": FRAME_TYPE, "content-location": "http://s/frames/1"}
    assert parts[0].content_type == FRAME_TYPE
    assert parts[1].content_type == "image/jpeg"


@pytest.mark.parametrize(
    "content_type",
    [
        'multipart/related; boundary="b0und"',
        "multipart/related;boundary=b0und",
        'Multipart/Related; TYPE="application/octet-stream; transfer-syntax=*"; Boundary="b0und"',
        "multipart/related; boundary=b0und; type=application/octet-stream",
    ],
)
def test_boundary_quoted_or_not_anywhere_in_the_header(content_type):
    body = related([({"Content-Type": "application/octet-stream"}, b"abc")])
    assert [p.content for p in parse_multipart_related(body, content_type)] == [b"abc"]


def test_orthanc_style_boundary_and_quoted_type_with_semicolon():
    boundary = "6f53905a-7b35-405d-a404-ac825f10b001-7669b2a7-1891-4074-b802-bea3fb6e1"
    content_type = (
        'multipart/related; type="application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1";'
        f" boundary={boundary}"
    )
    body = related([({"Content-Type": FRAME_TYPE}, b"pixels")], boundary)
    assert parse_multipart_related(body, content_type)[0].content == b"pixels"


def test_preamble_and_epilogue_are_ignored():
    body = related(
        [({}, b"one"), ({}, b"two")],
        preamble=b"This is a preamble --b0und not at line start\r\n",
        epilogue=b"\r\nepilogue --b0und\r\n",
    )
    parts = parse_multipart_related(body, "multipart/related; boundary=b0und")
    assert [p.content for p in parts] == [b"one", b"two"]
    assert parts[0].headers == {}


def test_bare_lf_line_ends_are_tolerated():
    body = related([({"Content-Type": "image/jls"}, b"x\r\ny"), ({}, b"")], eol=b"\n")
    parts = parse_multipart_related(body, "multipart/related; boundary=b0und")
    assert [p.content for p in parts] == [b"x\r\ny", b""]
    assert parts[0].content_type == "image/jls"


def test_boundary_text_inside_content_does_not_split_it():
    content = b"a\r\n--b0undary-like line\r\n--b0und is mentioned\r\n--b0undX"
    body = related([({}, content)])
    assert parse_multipart_related(body, "multipart/related; boundary=b0und")[0].content == content


def test_transport_padding_after_delimiter_and_folded_header():
    body = (
        b"--b0und  \t\r\nContent-Type: application/octet-stream;\r\n transfer-syntax=1.2\r\n"
        b"\r\nZ\r\n--b0und--"
    )
    (part,) = parse_multipart_related(body, "multipart/related; boundary=b0und")
    assert part.content == b"Z"
    assert part.content_type == "application/octet-stream; transfer-syntax=1.2"


def test_single_part_response_is_one_part():
    parts = parse_multipart_related(
        b"\xff\xd8jpeg", "image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50"
    )
    assert parts == [
        Part(
            b"\xff\xd8jpeg", {"content-type": "image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50"}
        )
    ]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"--b0und\r\n\r\nx\r\n--b0und--", "multipart/related", "no boundary parameter"),
        (
            b"--b0und\r\n\r\nx\r\n--b0und--",
            'multipart/related; boundary=""',
            "no boundary parameter",
        ),
        (b"--other\r\n\r\nx\r\n--other--", "multipart/related; boundary=b0und", "not found"),
        (b"", "multipart/related; boundary=b0und", "not found"),
        (b"--b0und\r\n\r\nx\r\n--b0und\r\n\r\ny", "multipart/related; boundary=b0und", "truncated"),
        (b"--b0und\r\n\r\nhalf a fra", "multipart/related; boundary=b0und", "truncated"),
        (b"--b0und", "multipart/related; boundary=b0und", "truncated"),
        (b"--b0und--\r\n", "multipart/related; boundary=b0und", "no parts"),
        (
            b"--b0und\r\nno colon here\r\n\r\nx\r\n--b0und--",
            "multipart/related; boundary=b0und",
            "malformed header",
        ),
        (
            b"--b0und\r\nContent-Type: x\r\n--b0und--",
            "multipart/related; boundary=b0und",
            "no empty line",
        ),
        (b"", "application/octet-stream", "empty"),
    ],
)
def test_errors_say_what_and_where(body, content_type, message):
    with pytest.raises(MultipartError, match=message) as info:
        parse_multipart_related(body, content_type, URL)
    assert info.value.url == URL
    assert URL in str(info.value)


def test_media_type_parameters():
    assert parse_media_type('multipart/related; type="a; b=\\"c\\""; boundary=x ;flag') == (
        "multipart/related",
        {"type": 'a; b="c"', "boundary": "x"},
    )
    assert parse_media_type("") == ("", {})
    assert parse_media_type('text/plain; charset="unterminated') == (
        "text/plain",
        {"charset": "unterminated"},
    )


def test_build_round_trips_and_sets_type():
    contents = [b"DICM1", b"", b"--\r\n\r\n"]
    body, content_type = build_multipart_related(contents, "application/dicom")
    assert content_type.startswith('multipart/related; type="application/dicom"; boundary=')
    parts = parse_multipart_related(body, content_type)
    assert [p.content for p in parts] == contents
    assert {p.content_type for p in parts} == {"application/dicom"}
    _, unquoted = build_multipart_related(contents, "application/dicom", quote_type=False)
    assert unquoted.startswith("multipart/related; type=application/dicom; boundary=")


def test_a_100_mb_body_with_every_byte_value_parses():
    """(Its speed, and that of many small parts, is in benchmarks/bench_core.py.)"""
    frame = bytes(range(256)) * (1024 * 4 * 25)  # 25 MiB, every byte value, many LF and "-"
    body = related([({"Content-Type": FRAME_TYPE}, frame)] * 4)
    assert len(body) > 100_000_000
    parts = parse_multipart_related(body, "multipart/related; boundary=b0und")
    assert [len(p.content) for p in parts] == [len(frame)] * 4
    assert parts[3].content == frame


def test_many_small_parts_parse():
    body = related([({"Content-Type": FRAME_TYPE}, b"\x00" * 100)] * 20000)
    assert len(parse_multipart_related(body, "multipart/related; boundary=b0und")) == 20000


@settings(max_examples=400, deadline=None)
@given(body=st.binary(max_size=400), content_type=st.text(max_size=80))
def test_random_input_raises_only_multipart_error(body, content_type):
    try:
        parts = parse_multipart_related(body, content_type)
    except MultipartError:
        return
    assert parts and all(isinstance(p.content, bytes) for p in parts)


_boundary = st.text(alphabet="abcXYZ0123456789'()+_,-./:=?", min_size=1, max_size=70)


@settings(max_examples=300, deadline=None)
@given(
    body_parts=st.lists(st.binary(max_size=200), min_size=1, max_size=6),
    boundary=_boundary,
    data=st.data(),
)
def test_random_multipart_with_near_boundaries_raises_only_multipart_error(
    body_parts, boundary, data
):
    """Bodies built from pieces of the delimiter stress the delimiter search."""
    pieces = st.sampled_from([b"--" + boundary.encode(), b"--", b"\r\n", b"\n", b"\r", b" ", b"x"])
    body = b"".join(data.draw(st.lists(pieces, max_size=30)) + body_parts)
    try:
        parse_multipart_related(body, f'multipart/related; boundary="{boundary}"')
    except MultipartError:
        pass


@settings(max_examples=300, deadline=None)
@given(
    contents=st.lists(st.binary(max_size=300), min_size=1, max_size=8),
    boundary=_boundary,
    eol=st.sampled_from([b"\r\n", b"\n"]),
    preamble=st.sampled_from([b"", b"preamble\r\n", b"\r\n"]),
    epilogue=st.binary(max_size=40),
)
def test_valid_multiparts_round_trip(contents, boundary, eol, preamble, epilogue):
    delimiter = b"--" + boundary.encode()
    if any(delimiter in c for c in contents) or (
        eol == b"\n" and any(c.endswith(b"\r") for c in contents)
    ):
        return  # not a valid body: the boundary must not occur in content
    body = related(
        [({"Content-Type": "application/octet-stream"}, c) for c in contents],
        boundary,
        eol=eol,
        preamble=preamble,
        epilogue=epilogue,
    )
    parts = parse_multipart_related(body, f'multipart/related; boundary="{boundary}"')
    assert [p.content for p in parts] == contents


@settings(max_examples=200, deadline=None)
@given(contents=st.lists(st.binary(max_size=300), min_size=1, max_size=8))
def test_built_bodies_round_trip(contents):
    body, content_type = build_multipart_related(contents, "application/dicom")
    assert [p.content for p in parse_multipart_related(body, content_type)] == contents
