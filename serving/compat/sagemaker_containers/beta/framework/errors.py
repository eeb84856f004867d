from serving.errors import ServingError, UnsupportedMediaType


class ClientError(ServingError):
    status = 400
    title = "Bad Request"


class UnsupportedFormatError(UnsupportedMediaType):
    def __init__(self, content_type, **kwargs):
        super().__init__(f"Content type {content_type} is not supported by this framework.")
        self.content_type = content_type
