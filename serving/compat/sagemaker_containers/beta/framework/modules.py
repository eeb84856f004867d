"""Present so ``from sagemaker_containers.beta.framework import modules`` works; the server
imports user modules itself (``serving.handlers.script``)."""

from serving.handlers.script import import_script  # noqa: F401
