import flask

from . import content_types


class Response(flask.Response):
    """``worker.Response``: a Flask response whose default mimetype is JSON."""

    default_mimetype = content_types.JSON
