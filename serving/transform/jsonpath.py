"""SageMaker's JSONPath subset for ``InputFilter`` and ``OutputFilter``.

Supported: ``$``, ``.name``, ``.*`` / ``[*]``, ``['a','b']``, ``[n]``, ``[n,m,...]`` (negative
indexes count from the end), ``[start:end]`` and mixes such as ``[0,5:]``.

Hand-written rather than jsonpath-ng because SageMaker's semantics differ from it where it
matters: SageMaker's slices are *inclusive* (``$[1:4]`` is the second through fifth
columns; jsonpath-ng, like Python, stops before ``4``), and a multi-selection keeps its
shape (``$[0,-1]`` gives an array, ``$['id','SageMakerOutput']`` an object with those keys)
where jsonpath-ng returns a flat list of matches. The subset is small enough that a parser
of our own is shorter than adapting one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..errors import BadRequest
from .options import ValidationError

_TOKEN = re.compile(r"\.\*|\.([A-Za-z_][\w-]*)|\[([^\]]*)\]")
_INT = re.compile(r"-?\d+")


@dataclass(frozen=True)
class Step:
    kind: str  # "name", "names", "wild", "indexes"
    items: tuple  # names, or ints and (start, end) slice pairs (None for open ends)


@dataclass(frozen=True)
class JsonPath:
    text: str
    steps: tuple[Step, ...]

    @property
    def is_root(self) -> bool:
        return not self.steps

    def apply(self, value: Any) -> Any:
        for step in self.steps:
            value = _apply(step, value, self.text)
        return value


@lru_cache(maxsize=64)
def parse(text: str) -> JsonPath:
    path = text.strip()
    if not path.startswith("$"):
        raise ValidationError(f"the JSONPath '{text}' must start with '$' (e.g. '$[1:]', '$.features')")
    steps, pos = [], 1
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if match is None:
            raise ValidationError(
                f"the JSONPath '{text}' cannot be read at '{path[pos:]}'; supported: .name, .*, [*], "
                "['a','b'], [n], [n,m], [start:end]"
            )
        steps.append(_step(match, text))
        pos = match.end()
    return JsonPath(text, tuple(steps))


def _step(match: re.Match, text: str) -> Step:
    if match.group(0) == ".*":
        return Step("wild", ())
    if match.group(1) is not None:
        return Step("name", (match.group(1),))
    inside = match.group(2).strip()
    if inside == "*":
        return Step("wild", ())
    parts = [p.strip() for p in inside.split(",")]
    if all(len(p) >= 2 and p[0] == p[-1] and p[0] in "'\"" for p in parts):
        names = tuple(p[1:-1] for p in parts)
        return Step("name" if len(names) == 1 else "names", names)
    items: list = []
    for part in parts:
        if ":" in part:
            start, _, end = part.partition(":")
            if not all(not p.strip() or _INT.fullmatch(p.strip()) for p in (start, end)):
                raise ValidationError(f"the slice '[{part}]' in '{text}' needs whole numbers, e.g. [1:4] or [2:]")
            items.append((int(start) if start.strip() else None, int(end) if end.strip() else None))
        elif _INT.fullmatch(part):
            items.append(int(part))
        else:
            raise ValidationError(
                f"'[{inside}]' in the JSONPath '{text}' is neither indexes ([0,-1], [1:4]) nor quoted names (['a','b'])"
            )
    return Step("indexes", tuple(items))


def _apply(step: Step, value: Any, text: str) -> Any:
    if step.kind == "wild":
        if isinstance(value, dict):
            return list(value.values())
        if isinstance(value, list):
            return value
        raise BadRequest(f"'{text}': '*' needs an array or an object, found {_kind(value)}")
    if step.kind in ("name", "names"):
        if not isinstance(value, dict):
            raise BadRequest(f"'{text}' selects key(s) {', '.join(step.items)} but the record is {_kind(value)}")
        missing = [k for k in step.items if k not in value]
        if missing:
            raise BadRequest(f"'{text}': the record has no key {', '.join(missing)} (keys: {', '.join(map(str, value))})")
        if step.kind == "name":
            return value[step.items[0]]
        return {k: value[k] for k in step.items}
    if not isinstance(value, list):
        raise BadRequest(f"'{text}' selects indexes but the record is {_kind(value)}")
    single = len(step.items) == 1 and isinstance(step.items[0], int)
    picked: list = []
    for item in step.items:
        if isinstance(item, int):
            picked.append(value[_index(item, len(value), text)])
        else:
            picked.extend(value[_slice(item, len(value))])
    return picked[0] if single else picked


def _index(i: int, n: int, text: str) -> int:
    if not -n <= i < n:
        raise BadRequest(f"'{text}': index {i} is outside the record, which has {n} values")
    return i % n


def _slice(bounds: tuple, n: int) -> slice:
    """SageMaker's inclusive ``[start:end]`` as a Python slice."""
    start, end = bounds
    if end is None:
        return slice(start, None)
    return slice(start, None if end == -1 else end + 1)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array"}.get(type(value), f"a {type(value).__name__} value")
