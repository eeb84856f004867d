import io

import numpy as np

from serving.compat.common import array_to_json, array_to_npy

from . import content_types, errors


def array_to_csv(array_like) -> str:
    stream = io.StringIO()
    np.savetxt(stream, array_like, delimiter=",", fmt="%s")
    return stream.getvalue()


_ENCODERS = {content_types.NPY: array_to_npy, content_types.CSV: array_to_csv, content_types.JSON: array_to_json}
SUPPORTED_CONTENT_TYPES = set(_ENCODERS)


def encode(array_like, content_type):
    try:
        return _ENCODERS[str(content_type)](array_like)
    except KeyError:
        raise errors.UnsupportedFormatError(content_type) from None
