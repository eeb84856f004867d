"""Present so ``from sagemaker_containers.beta.framework import transformer`` works; the
handler chain is ``serving.handlers.transformer.Transformer``."""

from serving.handlers.transformer import Transformer  # noqa: F401
