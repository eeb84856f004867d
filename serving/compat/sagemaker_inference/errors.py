"""The toolkit's errors, as the toolkit defines them. ``BaseInferenceToolkitError`` carries a
status code, and here the status reaches the client: the server answers any exception with
an integer ``status_code`` with that status (:func:`serving.errors.from_script`), this
class, the real toolkit's, or a subclass that never calls ``__init__``."""

from serving.compat.common import UnsupportedFormatError  # noqa: F401  (the toolkit's name)


class BaseInferenceToolkitError(Exception):
    def __init__(self, status_code, message, phrase):
        self.status_code = status_code
        self.message = message
        self.phrase = phrase
        super().__init__(status_code, message, phrase)


class GenericInferenceToolkitError(BaseInferenceToolkitError):
    def __init__(self, status_code, message=None, phrase=None):
        message = message or "Invalid Request"
        phrase = phrase or message
        super().__init__(status_code, message, phrase)
