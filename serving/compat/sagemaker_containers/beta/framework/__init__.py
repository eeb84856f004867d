"""``sagemaker_containers.beta.framework``: the names inference scripts import."""

from . import content_types, encoders, env, errors, modules, transformer, worker

__all__ = ["content_types", "encoders", "env", "errors", "modules", "transformer", "worker"]
