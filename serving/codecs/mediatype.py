"""Media types as objects: parsed once, compared without parameters, parameters kept.

``MediaType`` is a ``str`` whose value is the bare ``type/subtype`` (lower case), so user
scripts written for the AWS containers keep working when they compare
``content_type == "text/csv"`` even if the client sent ``text/csv; charset=utf-8``. The
parameters live in ``.params``; ``.full`` gives the type with them, as it was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..errors import BadRequest, NotAcceptable, UnsupportedMediaType


class MediaType(str):
    """A parsed media type. ``str(mt)`` is ``type/subtype``; ``mt.params`` the parameters."""

    params: dict[str, str]
    full: str

    def __new__(cls, essence: str, params: dict[str, str] | None = None, full: str | None = None):
        self = super().__new__(cls, essence)
        self.params = dict(params or {})
        self.full = full if full is not None else _format(essence, self.params)
        return self

    @classmethod
    def parse(cls, text: str) -> "MediaType":
        return _parse_cached(text)

    @property
    def type(self) -> str:
        return self.split("/", 1)[0]

    @property
    def subtype(self) -> str:
        return self.split("/", 1)[1]

    @property
    def charset(self) -> str:
        return self.params.get("charset", "utf-8")

    def matches(self, other: str) -> bool:
        """True when ``self`` (possibly a wildcard such as ``text/*``) covers ``other``."""
        if self == "*/*":
            return True
        if self.subtype == "*":
            return str(other).split("/", 1)[0] == self.type
        return str.__eq__(self, str(other).split(";", 1)[0].strip().lower())

    @property
    def is_wildcard(self) -> bool:
        return "*" in self

    def __repr__(self) -> str:
        return f"MediaType({self.full!r})"


def _format(essence: str, params: dict[str, str]) -> str:
    return essence + "".join(f";{k}={v}" for k, v in params.items())


@lru_cache(maxsize=512)
def _parse_cached(text: str) -> MediaType:
    parts = text.split(";")
    essence = parts[0].strip().lower()
    if essence.count("/") != 1 or not all(essence.split("/")):
        raise BadRequest(f"'{text}' is not a media type: expected 'type/subtype', e.g. 'text/csv'")
    params: dict[str, str] = {}
    for part in parts[1:]:
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise BadRequest(f"media type parameter '{part.strip()}' in '{text}' has no value")
        params[key.strip().lower()] = value.strip().strip('"')
    return MediaType(essence, params, full=text.strip())


@dataclass(frozen=True)
class AcceptItem:
    media_type: MediaType
    q: float
    order: int

    @property
    def specificity(self) -> int:
        if self.media_type == "*/*":
            return 0
        if self.media_type.subtype == "*":
            return 1
        return 2 + len(self.media_type.params)


@lru_cache(maxsize=512)
def parse_accept(header: str) -> tuple[AcceptItem, ...]:
    """Parse an Accept header into items, best first (q, then specificity, then order).

    Items with ``q=0`` are kept out: they say "never this type".
    """
    items = []
    for order, raw in enumerate(_split_list(header)):
        mt = MediaType.parse(raw)
        q = 1.0
        if "q" in mt.params:
            try:
                q = float(mt.params["q"])
            except ValueError:
                raise BadRequest(f"Accept entry '{raw}' has a q-value that is not a number") from None
            if not 0.0 <= q <= 1.0:
                raise BadRequest(f"Accept entry '{raw}' has a q-value outside 0..1")
            params = {k: v for k, v in mt.params.items() if k != "q"}
            mt = MediaType(str(mt), params)
        if q > 0:
            items.append(AcceptItem(mt, q, order))
    items.sort(key=lambda i: (-i.q, -i.specificity, i.order))
    return tuple(items)


def _split_list(header: str) -> list[str]:
    """Split on commas that are not inside quoted parameter values."""
    out, buf, quoted = [], [], False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    out.append("".join(buf))
    return [s.strip() for s in out if s.strip()]


@lru_cache(maxsize=1024)  # the same few (Accept, offered, default) come with every request
def negotiate(accept: str | None, offered: tuple[str, ...] | None, default: str) -> MediaType:
    """Choose the response media type.

    ``accept`` is the raw header (``None``/empty means "no preference"), ``offered`` the
    types the handler can produce (``None``: it can try anything the client names, as a
    user ``output_fn`` can), ``default`` the ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``.

    An empty header or one whose best entry is ``*/*`` yields the default. A wildcard such as
    ``text/*`` yields the default if it matches, else the first offered type it matches.
    Raises ``NotAcceptable`` naming what can be produced when nothing matches.
    """
    default_mt = MediaType.parse(default)
    if not accept or not accept.strip():
        return default_mt
    items = parse_accept(accept)
    if not items:
        raise not_acceptable(accept, offered)
    for item in items:
        mt = item.media_type
        if mt.is_wildcard:
            if mt.matches(default_mt):
                return default_mt
            for candidate in offered or ():
                if mt.matches(candidate):
                    return MediaType.parse(candidate)
            continue
        if offered is None:
            return mt
        for candidate in offered:
            cand = MediaType.parse(candidate)
            if str.__eq__(cand, mt) and (not mt.params or cand.params == mt.params or not cand.params):
                return mt if mt.params else cand
    raise not_acceptable(accept, offered)


def not_acceptable(accept: str, offered: tuple[str, ...] | None) -> NotAcceptable:
    """The 406: ``accept`` names nothing that can be produced; say what can."""
    what = ", ".join(offered) if offered else "none"
    return NotAcceptable(
        f"Accept '{accept}' names no type this model can produce; supported: {what}"
    )


def unsupported(problem: str, accepted, hint: str | None = None) -> UnsupportedMediaType:
    """The 415: ``problem`` says what is wrong with the Content-Type; the message ends with
    ``hint``, else the types that would be read."""
    return UnsupportedMediaType(f"{problem}; {hint or 'send one of: ' + ', '.join(accepted)}")

