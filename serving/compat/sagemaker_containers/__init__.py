"""A small stand-in for the retired ``sagemaker-containers`` package.

Older public inference scripts (the SageMaker abalone featurizer among them) import
``sagemaker_containers.beta.framework``. The real package pins Flask 1.x and other old
versions, so it cannot be installed beside a current stack; this module offers the parts
such scripts use (``content_types``, ``encoders``, ``worker.Response``, ``errors``) with the
same behaviour, so they run unchanged in our containers.
"""
