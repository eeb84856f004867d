from serving.compat.common import UnsupportedFormatError  # noqa: F401  (the toolkit's name)
from serving.errors import BadRequest


class ClientError(BadRequest):
    """The toolkit's client error: a 400 here."""
