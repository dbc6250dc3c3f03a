"""The text of an HTML page a server answered instead of DICOM (a proxy's error page, a
portal's sign-in): its own module, imported when such a page comes, as html.parser is a
noticeable part of every start's import under Pyodide."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

__all__ = ["PageText"]


class PageText(HTMLParser):
    """An HTML page's title and its other text, scripts and styles left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.text: list[str] = []
        self._inside = ""

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("title", "script", "style"):
            self._inside = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._inside:
            self._inside = ""

    def handle_data(self, data: str) -> None:
        if self._inside == "title":
            self.title.append(data)
        elif not self._inside:
            self.text.append(data + " ")
