"""The op registry: MLeap op name -> :class:`~.base.Op` subclass.

Modules in this package register their classes with :func:`register`; ``load_all`` imports
every op module once so the registry is complete before a bundle is read.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Op, Ports

OPS: dict[str, type[Op]] = {}
SPARK_CLASSES: dict[str, type[Op]] = {}


def register(cls: type[Op]) -> type[Op]:
    """Class decorator: make ``cls`` the reader of its MLeap op names and Spark classes."""
    for name in cls.names:
        OPS[name] = cls
    for spark_class in cls.spark_classes:
        SPARK_CLASSES[spark_class] = cls
    return cls


_loaded = False


def load_all() -> None:
    global _loaded
    if _loaded:
        return
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")
    _loaded = True


__all__ = ["OPS", "SPARK_CLASSES", "Op", "Ports", "register", "load_all"]
