"""The constraint operators of OHIF's hanging-protocol rules, with OHIF's semantics.

A rule's ``constraint`` is an object of operators (``{"equals": {"value": "MR"}}`` or
``{"equals": "MR"}``: OHIF accepts the test value bare or under ``value``); every operator
in it must pass. Each operator here follows OHIF's ``validator.js`` case by case, because
sites copy OHIF protocols and expect them to match the same series:

- ``equals`` / ``doesNotEqual``: a list test value compares element-wise with the
  attribute's values (same length); a single one with the first value.
- ``includes`` / ``doesNotInclude``: the test value is a list; passes when any (none) of
  its items is one of the attribute's values.
- ``contains`` / ``containsI`` / ``doesNotContain`` / ``doesNotContainI``: substring tests;
  a list attribute passes when any item does, a list test value when any item is found.
  ``containsI`` ignores case.
- ``startsWith`` / ``endsWith``: any attribute value starts (ends) with any test value.
- ``greaterThan`` / ``lessThan``: numbers, inclusive as OHIF's (``>=`` / ``<=``).
- ``range``: ``[low, high]`` in either order, inclusive.
- ``notNull``: the attribute is present.

:func:`check` answers None when the value passes, else the reason, which the matcher keeps
to say why a protocol or series did not match.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["OPERATORS", "check", "test_value"]

Check = Callable[[Any, Any], bool]


def test_value(option: Any) -> Any:
    """OHIF's ``getTestValue``: ``{"value": x}`` is ``x``; a list of such, the list of ``x``."""
    if isinstance(option, list):
        return [item["value"] if isinstance(item, dict) and "value" in item else item
                for item in option]
    if isinstance(option, dict) and "value" in option:
        return option["value"]
    return option


def _values(value: Any) -> list[Any]:
    """The attribute's values as a list (a single value is a list of one)."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _equals(value: Any, test: Any) -> bool:
    values = _values(value)
    if isinstance(test, list):
        return len(test) == len(values) and all(a == b for a, b in zip(test, values))
    return bool(values) and values[0] == test


def _does_not_equal(value: Any, test: Any) -> bool:
    values = _values(value)
    if isinstance(test, list):
        return not (len(test) == len(values) and all(a == b for a, b in zip(test, values)))
    return not values or values[0] != test


def _includes(value: Any, test: Any) -> bool:
    return isinstance(test, list) and any(item in _values(value) for item in test)


def _does_not_include(value: Any, test: Any) -> bool:
    return isinstance(test, list) and not any(item in _values(value) for item in test)


def _contains(value: Any, test: Any, fold: bool = False) -> bool:
    if value is None:
        return False
    if isinstance(value, (list, tuple)):
        return any(_contains(item, test, fold) for item in value)
    if isinstance(test, list):
        return any(_contains(value, item, fold) for item in test)
    if not isinstance(test, str) or not test:
        return True  # OHIF passes an empty test value
    text = str(value)
    return test.lower() in text.lower() if fold else test in text


def _affix(value: Any, test: Any, ends: bool) -> bool:
    tests = [test] if isinstance(test, str) else list(test or [])
    return any(isinstance(v, str) and any(v.endswith(t) if ends else v.startswith(t)
                                          for t in tests if isinstance(t, str))
               for v in _values(value))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _compare(value: Any, test: Any, greater: bool) -> bool:
    if isinstance(test, list):
        if len(test) != 1:
            return False
        test = test[0]
    number, bound = _number(value), _number(test)
    if number is None or bound is None:
        return False
    return number >= bound if greater else number <= bound


def _range(value: Any, test: Any) -> bool:
    if not isinstance(test, list) or len(test) != 2:
        return False
    number, low, high = _number(value), _number(test[0]), _number(test[1])
    if number is None or low is None or high is None:
        return False
    return min(low, high) <= number <= max(low, high)


OPERATORS: dict[str, Check] = {
    "equals": _equals,
    "doesNotEqual": _does_not_equal,
    "includes": _includes,
    "doesNotInclude": _does_not_include,
    "contains": lambda v, t: _contains(v, t),
    "containsI": lambda v, t: _contains(v, t, fold=True),
    "doesNotContain": lambda v, t: not _contains(v, t),
    "doesNotContainI": lambda v, t: not _contains(v, t, fold=True),
    "startsWith": lambda v, t: _affix(v, t, ends=False),
    "endsWith": lambda v, t: _affix(v, t, ends=True),
    "greaterThan": lambda v, t: _compare(v, t, greater=True),
    "lessThan": lambda v, t: _compare(v, t, greater=False),
    "range": _range,
    "notNull": lambda v, t: v is not None and v != [] and v != "",
}
"""Every operator a rule's constraint may use, by OHIF's name."""


def check(attribute: str, value: Any, constraint: dict[str, Any]) -> str | None:
    """None when ``value`` passes every operator of ``constraint``, else why not."""
    for operator, option in constraint.items():
        test = test_value(option)
        if not OPERATORS[operator](value, test):
            return f"{attribute} {value!r} fails {operator} {test!r}"
    return None
