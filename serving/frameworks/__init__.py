"""Frameworks by name: what ``serving serve --framework NAME`` runs as defaults.

Imported lazily so a container only imports its own framework (the sparkml image has no
scikit-learn, the model image neither).
"""

from __future__ import annotations

import importlib

from ..errors import ConfigurationError

FRAMEWORKS = {
    "sklearn": "serving.frameworks.sklearn.handler:SklearnFramework",
    "sparkml": "serving.frameworks.sparkml.handler:SparkMLFramework",
    "model": "serving.frameworks.model.handler:ModelFramework",
    "xgboost": "serving.frameworks.xgboost.handler:XGBoostFramework",
    "blazingtext": "serving.frameworks.blazingtext.handler:BlazingTextFramework",
}


def framework_class(name: str):
    try:
        module_name, _, attr = FRAMEWORKS[name].partition(":")
    except KeyError:
        raise ConfigurationError(f"unknown framework '{name}'; choose one of: {', '.join(FRAMEWORKS)}") from None
    return getattr(importlib.import_module(module_name), attr)
