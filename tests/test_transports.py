"""The transports, the same in CPython (httpx) and under Pyodide (``fetch``, the browser's):
a server that never answers times out, one that cannot be reached says so, whole or
streamed; a streamed body is the body, chunk by chunk; and (``fetch`` only) an early
answer that never comes counts against the request's timeout.

Under Pyodide the faulty servers are the outer CPython test's (tests/test_pyodide_node.py),
given in the environment as the data-source contract's sites are.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from support.contract import ORTHANC, REFUSED, STALLED, given_site_url

from ohifpy.dicomweb import DICOMwebConnectionError, DICOMwebTimeout, Transport

PYODIDE = sys.platform == "emscripten"


@pytest.fixture(scope="module")
def run() -> Iterator[Any]:
    loop = asyncio.new_event_loop()
    yield loop.run_until_complete
    loop.close()


@pytest.fixture
def urls(request: pytest.FixtureRequest) -> dict[str, str]:
    if PYODIDE:
        return {name: given_site_url(name) for name in (STALLED, REFUSED, ORTHANC)}
    sites = request.getfixturevalue("contract_sites")
    return {name: sites.url(name) for name in (STALLED, REFUSED, ORTHANC)}


def make_transport(prefetched: Any = None) -> Transport:
    if PYODIDE:
        from ohifpy.dicomweb.fetch_transport import FetchTransport

        return FetchTransport(prefetched)
    from ohifpy.dicomweb.httpx_transport import HttpxTransport

    return HttpxTransport()


def test_a_server_that_never_answers_times_out(run: Any, urls: dict[str, str]) -> None:
    transport = make_transport()
    with pytest.raises(DICOMwebTimeout, match="timed out after 0.5 s"):
        run(transport.request("GET", urls[STALLED] + "studies", timeout=0.5))
    run(transport.aclose())


def test_a_server_that_cannot_be_reached_says_so(run: Any, urls: dict[str, str]) -> None:
    transport = make_transport()
    with pytest.raises(DICOMwebConnectionError, match="cannot reach the server"):
        run(transport.request("GET", urls[REFUSED] + "studies", timeout=10))
    run(transport.aclose())


def test_a_streamed_body_is_the_body_chunk_by_chunk(run: Any, urls: dict[str, str]) -> None:
    transport = make_transport()
    url = urls[ORTHANC].rstrip("/") + "/studies?includefield=all"
    whole = run(transport.request("GET", url, headers={"Accept": "application/dicom+json"}))

    async def streamed() -> tuple[int, str, bytes]:
        response = await transport.stream("GET", url,
                                          headers={"Accept": "application/dicom+json"})
        try:
            return (response.status, response.content_type,
                    b"".join([chunk async for chunk in response.chunks]))
        finally:
            await response.aclose()

    status, content_type, body = run(streamed())
    assert (status, body) == (200, whole.body) and len(body) > 1000
    assert content_type.startswith("application/dicom+json")
    run(transport.aclose())


@pytest.mark.parametrize(("site", "error", "message"), [
    (STALLED, DICOMwebTimeout, "timed out after 0.5 s"),
    (REFUSED, DICOMwebConnectionError, "cannot reach the server")])
def test_a_stream_fails_as_a_request_does(run: Any, urls: dict[str, str], site: str,
                                          error: type[Exception], message: str) -> None:
    transport = make_transport()
    with pytest.raises(error, match=message):
        run(transport.stream("GET", urls[site] + "studies/1/series/2", timeout=0.5))
    run(transport.aclose())


if PYODIDE:
    def test_a_hung_early_answer_counts_against_the_timeout(run: Any,
                                                            urls: dict[str, str]) -> None:
        """The worker's start-up fetch of this URL never settles: the request times out."""
        from js import Map, Promise

        url = urls[STALLED] + "studies/1/metadata"
        prefetched = Map.new()
        prefetched.set(url, Promise.new(lambda resolve, reject: None))
        transport = make_transport(prefetched)
        with pytest.raises(DICOMwebTimeout, match="timed out after 0.5 s"):
            run(transport.request("GET", url, headers={"Accept": "application/dicom+json"},
                                  timeout=0.5))
        assert not prefetched.has(url)  # taken once, whatever came of it
