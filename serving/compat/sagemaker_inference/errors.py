"""The toolkit's errors. ``BaseInferenceToolkitError`` carries a status code, as in the
toolkit, and here the status reaches the client (it is one of our typed errors)."""

from serving.compat.common import UnsupportedFormatError  # noqa: F401  (the toolkit's name)
from serving.errors import ServingError


class BaseInferenceToolkitError(ServingError):
    def __init__(self, status_code, message, phrase):
        super().__init__(str(message))
        self.status = self.status_code = status_code
        self.phrase = phrase


class GenericInferenceToolkitError(BaseInferenceToolkitError):
    def __init__(self, status_code, message=None, phrase=None):
        message = message or "Invalid Request"
        super().__init__(status_code, message, phrase or message)
