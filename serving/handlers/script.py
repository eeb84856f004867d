"""Finding and importing the user's inference script.

Where the script is, in the order the AWS containers look:

1. ``SAGEMAKER_PROGRAM`` inside ``SAGEMAKER_SUBMIT_DIRECTORY`` (a directory, a ``.tar.gz``,
   a ``file://`` URL of either, or an ``s3://`` URI of a ``sourcedir.tar.gz``, downloaded
   and extracted at start-up as the AWS containers do). A directory under ``/opt/ml/model`` (the SDK sets
   ``/opt/ml/model/code`` for network-isolated models) means that folder of the model
   directory, wherever the model directory is;
2. ``SAGEMAKER_PROGRAM`` inside ``<model dir>/code`` (where the SDK repacks it);
3. ``<model dir>/code/inference.py`` when no program is named.

A ``requirements.txt`` beside the script is installed with pip before the import.
"""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from .. import compat
from ..errors import ConfigurationError
from ..settings import DEFAULT_MODEL_DIR
from ..storage.artifacts import fetch
from ..storage.s3 import is_s3
from .archive import extract, is_archive

log = logging.getLogger("serving")

HOOKS = ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn", "execution_parameters_fn")


def find_script(model_dir: str, program: str | None, submit_directory: str | None) -> Path | None:
    if submit_directory:
        source = submit_directory.removeprefix("file://")
        if source == DEFAULT_MODEL_DIR or source.startswith(DEFAULT_MODEL_DIR + "/"):
            source = str(Path(model_dir) / source[len(DEFAULT_MODEL_DIR):].lstrip("/"))
        if is_s3(source):  # as the AWS containers do: download and extract it at start-up
            code_dir = Path(fetch(source, None, what="SAGEMAKER_SUBMIT_DIRECTORY"))
        elif "://" in source:
            raise ConfigurationError(f"SAGEMAKER_SUBMIT_DIRECTORY={submit_directory}: the scheme is not one that can be "
                                     "read; give an s3:// URI, a file:// URL, or a local directory or .tar.gz")
        else:
            code_dir = Path(extract(source)) if is_archive(source) else Path(source)
        if not code_dir.is_dir():
            raise ConfigurationError(f"SAGEMAKER_SUBMIT_DIRECTORY {submit_directory} is not a directory or .tar.gz")
    else:
        code_dir = Path(model_dir) / "code"
    name = program or "inference.py"
    script = code_dir / name
    if not script.suffix:
        script = script.with_suffix(".py")
    if script.is_file():
        return script
    if program or submit_directory:
        raise ConfigurationError(f"SAGEMAKER_PROGRAM {name} was not found in {code_dir}")
    return None


def install_requirements(script: Path) -> None:
    requirements = script.parent / "requirements.txt"
    if not requirements.is_file():
        return
    log.info("installing %s", requirements)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", str(requirements)],
        capture_output=True,
        text=True,
        cwd=str(script.parent),
    )
    if result.returncode != 0:
        raise ConfigurationError(f"pip could not install {requirements}:\n{result.stderr.strip()[-2000:]}")


def import_script(script: Path) -> ModuleType:
    """Import the script as a module named after it, its folder first on ``sys.path``."""
    compat.install()  # sagemaker_inference / sagemaker_containers, where not installed
    folder = str(script.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(script.stem, script)
    if spec is None or spec.loader is None:
        raise ConfigurationError(f"{script} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[script.stem] = module
    spec.loader.exec_module(module)
    return module


def user_hooks(module: ModuleType | None) -> dict:
    """The hook functions a script defines, checked for the transform_fn conflict."""
    if module is None:
        return {}
    hooks = {name: getattr(module, name) for name in HOOKS if callable(getattr(module, name, None))}
    if "transform_fn" in hooks:
        mixed = [name for name in ("input_fn", "predict_fn", "output_fn") if name in hooks]
        if mixed:
            raise ConfigurationError(
                f"{module.__file__} defines transform_fn together with {', '.join(mixed)}: "
                "transform_fn replaces input_fn, predict_fn and output_fn, so define either "
                "transform_fn alone or those three"
            )
    return hooks
