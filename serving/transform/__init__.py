"""Batch transform: SageMaker's batch semantics over local files, in process or on Spark.

``from serving.transform import transform`` is the Python API (see ``job.transform``); the
import stays light until a job runs.
"""


def transform(*args, **kwargs):
    from .job import transform as run

    return run(*args, **kwargs)
