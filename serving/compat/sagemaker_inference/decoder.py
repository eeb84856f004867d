import io
import json

import numpy as np

from serving.compat.common import npy_to_numpy

from . import content_types, errors


def json_to_numpy(string_like, dtype=None):
    return np.array(json.loads(string_like), dtype=dtype)


def csv_to_numpy(string_like, dtype=None):
    return np.genfromtxt(io.StringIO(string_like), dtype=dtype, delimiter=",")


def npz_to_sparse(npz_bytes):
    """A ``scipy.sparse.save_npz`` body as the sparse matrix it holds (never unpickles)."""
    import scipy.sparse

    return scipy.sparse.load_npz(io.BytesIO(npz_bytes))


_DECODERS = {content_types.JSON: json_to_numpy, content_types.CSV: csv_to_numpy, content_types.NPY: npy_to_numpy,
             content_types.NPZ: npz_to_sparse}


def decode(obj, content_type):
    try:
        return _DECODERS[str(content_type)](obj)
    except KeyError:
        raise errors.UnsupportedFormatError(content_type) from None
