"""The one root of ohifpy's expected errors.

Anything the data, its server, the config or the page's request can get wrong raises an
:class:`OhifpyError` subclass with a message meant for a person. The worker bridge tells
those to the page as they are; any other exception is a bug and is reported with its
traceback. Subclasses that existed as ``ValueError`` keep it as a second base, so callers
that catch ``ValueError`` still work.
"""

from __future__ import annotations

__all__ = ["DATA_ERRORS", "BadRequest", "OhifpyError"]


class OhifpyError(Exception):
    """Base of every error ohifpy raises on purpose (bad data, server, config or request)."""


class BadRequest(OhifpyError, ValueError):
    """A request from the page (or the command line) that cannot be right: an image index
    out of range, a window that is not two numbers, an empty UID list."""


DATA_ERRORS = (OhifpyError, ValueError)
"""What bad data, a failing server or a wrong request raise: told to the user as they are.
ValueError stays beside the root because pydicom reports malformed values with it."""
