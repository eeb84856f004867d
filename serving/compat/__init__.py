"""Stand-ins for the AWS toolkit packages that public inference scripts import.

Scripts written for the AWS scikit-learn container import ``sagemaker_inference`` (current
examples) or the retired ``sagemaker_containers.beta.framework`` (older ones). Neither fits
in our images: the first is source-only and pulls in boto3, the second pins Flask 1.x. This
folder holds small modules of the same names, with the behaviour such scripts rely on.
``install()`` puts the folder at the *end* of ``sys.path`` before a user script is imported,
so a real package, where one is installed, still wins.
"""

from __future__ import annotations

import sys
from pathlib import Path

FOLDER = str(Path(__file__).resolve().parent)


def install() -> None:
    if FOLDER not in sys.path:
        sys.path.append(FOLDER)
