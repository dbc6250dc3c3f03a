"""The study browser's tabs, as OHIF's ``createStudyBrowserTabs`` makes them.

``Primary``: the studies the viewer opened from the URL. ``Recent``: every study of the
patient (the primary ones too) dated within :data:`RECENT_DAYS` of the oldest primary
study, as OHIF counts it from the primary study's date (not today's, so a study read a year
late still has its priors). ``All``: every study. Each tab newest first; studies without a
date sort last and are never recent.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from ..model import Study
from ..study_list import study_row

__all__ = ["RECENT_DAYS", "study_tabs"]

RECENT_DAYS = 365
"""OHIF's ``recentTimeframeMS`` (31536000000 ms)."""


def _date(study: Study) -> datetime.date | None:
    try:
        return datetime.datetime.strptime(study.study_date.strip()[:8], "%Y%m%d").date()
    except ValueError:
        return None


def study_tabs(primary_uids: Sequence[str], studies: Sequence[Study],
               opened: Sequence[str] = ()) -> list[dict[str, Any]]:
    """``[{name, label, studies}]`` for Primary, Recent and All; each study is a study-list
    row (:func:`ohifpy.study_list.study_row`) with ``opened`` (its series are in the panel)."""
    unique = list({s.study_instance_uid: s for s in studies}.values())
    dated = sorted((s for s in unique if _date(s) is not None),
                   key=lambda s: (_date(s), s.study_time), reverse=True)
    newest_first = [*dated, *(s for s in unique if _date(s) is None)]
    primary = [s for s in newest_first if s.study_instance_uid in primary_uids]
    primary_dates = [d for d in map(_date, primary) if d is not None]
    recent = []
    if primary_dates:
        since = min(primary_dates) - datetime.timedelta(days=RECENT_DAYS)
        recent = [s for s in newest_first if (d := _date(s)) is not None and d >= since]

    def rows(group: list[Study]) -> list[dict[str, Any]]:
        return [{**study_row(s), "opened": s.study_instance_uid in opened} for s in group]

    return [{"name": "primary", "label": "Primary", "studies": rows(primary)},
            {"name": "recent", "label": "Recent", "studies": rows(recent)},
            {"name": "all", "label": "All", "studies": rows(newest_first)}]
