"""``worker.Response``: a Flask response whose default mimetype is JSON, as in the toolkit.

Flask is in the images whose scripts use it (sklearn); elsewhere ``Response`` says so when
it is used, and importing ``sagemaker_containers.beta.framework`` still works.
"""

from . import content_types

try:
    import flask
except ImportError:  # pragma: no cover - the model and sparkml images have no Flask
    flask = None

if flask is not None:
    class Response(flask.Response):
        default_mimetype = content_types.JSON
else:
    class Response:
        def __init__(self, *args, **kwargs):
            raise ImportError("worker.Response needs Flask, which this image does not have: add flask to the "
                              "requirements.txt beside the script")
