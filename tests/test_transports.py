"""The transports' failures, the same in CPython (httpx) and under Pyodide (``fetch``, the
browser's): a server that never answers times out, one that cannot be reached says so, and
(``fetch`` only) an early answer that never comes counts against the request's timeout.

Under Pyodide the faulty servers are the outer CPython test's (tests/test_pyodide_node.py),
given in the environment as the data-source contract's sites are.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from support.contract import REFUSED, STALLED, given_site_url

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
        return {name: given_site_url(name) for name in (STALLED, REFUSED)}
    sites = request.getfixturevalue("contract_sites")
    return {name: sites.url(name) for name in (STALLED, REFUSED)}


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
