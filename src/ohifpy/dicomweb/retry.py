"""Retrying requests a busy server turned away (429, 503, 504).

Those statuses say "not now", not "no": the request did nothing and may be sent
again, STOW-RS included. Waits grow exponentially from a small base so a brief
overload costs little, a numeric ``Retry-After`` is honoured, and every wait is
capped so a server cannot stall the viewer. Timeouts and refused connections are
not retried: the user should hear about an unreachable server at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from .transport import Response, Transport

__all__ = ["BASE_DELAY", "MAX_DELAY", "RETRY_STATUSES", "request_with_retries", "retry_delay"]

RETRY_STATUSES = frozenset({429, 503, 504})
BASE_DELAY = 0.1  # seconds before the first retry
MAX_DELAY = 10.0  # no single wait is longer, whatever Retry-After says


def retry_delay(response: Response, attempt: int) -> float:
    """Seconds to wait before retry number ``attempt + 1`` of ``response``'s request."""
    retry_after = response.headers.get("retry-after", "").strip()
    try:
        seconds = float(retry_after)
    except ValueError:  # absent or an HTTP date: back off exponentially
        seconds = BASE_DELAY * 2**attempt
    if not seconds >= 0:  # negative or NaN
        seconds = BASE_DELAY * 2**attempt
    return min(seconds, MAX_DELAY)


async def request_with_retries(
    transport: Transport,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes | None = None,
    timeout: float,
    max_retries: int,
    max_bytes: int | None = None,
) -> Response:
    """Send the request, again up to ``max_retries`` times while the server is busy.

    Returns the last response, whatever its status: turning statuses into errors is
    the caller's business.
    """
    retries = max(max_retries, 0)
    for attempt in range(retries + 1):
        response = await transport.request(method, url, headers=headers, body=body,
                                           timeout=timeout, max_bytes=max_bytes)
        if response.status not in RETRY_STATUSES or attempt == retries:
            break
        await asyncio.sleep(retry_delay(response, attempt))
    return response
