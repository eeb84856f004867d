"""Serving runtime and container toolkit for SageMaker-style serial inference pipelines."""

__version__ = "0.1.0"
