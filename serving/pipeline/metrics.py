"""Endpoint metrics: SageMaker's CloudWatch invocation metrics, in Prometheus style.

| CloudWatch (``AWS/SageMaker``) | here |
| --- | --- |
| ``Invocations`` | ``sagemaker_invocations_total`` |
| ``Invocation4XXErrors`` / ``Invocation5XXErrors`` | ``sagemaker_invocation_4xx_errors_total`` / ``..._5xx_...`` |
| ``InvocationModelErrors`` | ``sagemaker_invocation_model_errors_total`` |
| ``ModelLatency`` (sum over containers) | ``sagemaker_model_latency_seconds`` |
| ``OverheadLatency`` (router time minus model) | ``sagemaker_overhead_latency_seconds`` |
| ``ContainerLatency`` and per-container counts | ``sagemaker_container_latency_seconds``, ``sagemaker_container_invocations_total``, ``sagemaker_container_invocation_4xx_errors_total``, ``..._5xx_...`` |
| (none: a model that overran its timeout) | ``sagemaker_container_timeouts_total``: the container answered 504 (``SAGEMAKER_MODEL_SERVER_TIMEOUT``, its worker replaced) or did not answer within the router's ``--timeout`` |

Latencies are in seconds (Prometheus' base unit; CloudWatch reports microseconds). Every
series carries ``endpoint``; per-container ones add ``container``. Each endpoint has its
own registry, so several endpoints can live in one process (tests, the demo).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST

disable_created_metrics()  # the ``*_created`` timestamp series only add noise to a scrape


class EndpointMetrics:
    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.registry = CollectorRegistry(auto_describe=True)
        r, e, ec = self.registry, ["endpoint"], ["endpoint", "container"]
        # The endpoint-wide series: their only label never changes, so bound once, not per request.
        self.invocations = Counter("sagemaker_invocations", "Requests to the endpoint", e, registry=r).labels(endpoint)
        self.errors_4xx = Counter("sagemaker_invocation_4xx_errors", "Requests answered 4xx", e, registry=r).labels(endpoint)
        self.errors_5xx = Counter("sagemaker_invocation_5xx_errors", "Requests answered 5xx", e, registry=r).labels(endpoint)
        self.model_errors = Counter("sagemaker_invocation_model_errors",
                                    "Requests a container failed (non-2xx, timeout, broken connection)", e,
                                    registry=r).labels(endpoint)
        self.model_latency = Histogram("sagemaker_model_latency_seconds", "Time spent in containers, summed over the "
                                       "pipeline", e, registry=r, buckets=BUCKETS).labels(endpoint)
        self.overhead_latency = Histogram("sagemaker_overhead_latency_seconds", "Router time minus model latency", e,
                                          registry=r, buckets=BUCKETS).labels(endpoint)
        self.container_invocations = Counter("sagemaker_container_invocations", "Requests sent to a container", ec, registry=r)
        self.container_4xx = Counter("sagemaker_container_invocation_4xx_errors", "Container answers 4xx", ec, registry=r)
        self.container_5xx = Counter("sagemaker_container_invocation_5xx_errors",
                                     "Container answers 5xx, timeouts and broken connections", ec, registry=r)
        self.container_latency = Histogram("sagemaker_container_latency_seconds", "Time one container took",
                                           ec, registry=r, buckets=BUCKETS)
        self.container_timeouts = Counter("sagemaker_container_timeouts", "Container calls that ran past a timeout "
                                          "(the container's, answered 504, or the router's)", ec, registry=r)
        # A label lookup costs about 2.5 µs; bound once per container, not per call.
        self._bound: dict[str, tuple] = {}

    def _container(self, container: str) -> tuple:
        bound = self._bound.get(container)
        if bound is None:
            labels = (self.endpoint, container)
            bound = self._bound[container] = tuple(
                metric.labels(*labels) for metric in (self.container_invocations, self.container_latency,
                                                      self.container_4xx, self.container_5xx, self.container_timeouts))
        return bound

    def container_call(self, container: str, status: int, seconds: float, timed_out: bool = False) -> None:
        """One request to one container; ``status`` 0 means no HTTP answer (timeout, refused)."""
        invocations, latency, errors_4xx, errors_5xx, timeouts = self._container(container)
        invocations.inc()
        latency.observe(seconds)
        if timed_out:
            timeouts.inc()
        if 400 <= status < 500:
            errors_4xx.inc()
        elif status >= 500 or status == 0:
            errors_5xx.inc()

    def request(self, status: int, total: float, model: float, model_error: bool) -> None:
        """One client request, answered with ``status`` after ``total`` seconds, ``model`` of them in containers."""
        self.invocations.inc()
        if 400 <= status < 500:
            self.errors_4xx.inc()
        elif status >= 500:
            self.errors_5xx.inc()
        if model_error:
            self.model_errors.inc()
        self.model_latency.observe(model)
        self.overhead_latency.observe(max(total - model, 0.0))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
