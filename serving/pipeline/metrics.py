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

The numbers are kept here and handed to prometheus_client at a scrape (a collector), not kept
in its ``Counter`` and ``Histogram`` objects: those take a lock for every count, fourteen a
request for a three-container pipeline, and were a third of the router's own time per request
(10 µs of 31). Here a request takes the lock four times; the exposition is prometheus_client's,
the same text as before.
"""

from __future__ import annotations

import threading
from bisect import bisect_left

from prometheus_client import CollectorRegistry, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST
_BOUNDS = [floatToGoString(b) for b in (*BUCKETS, float("inf"))]

disable_created_metrics()  # the ``*_created`` timestamp series only add noise to a scrape


class Latency:
    """One histogram series: counts per bucket (not cumulative) and the sum, as prometheus_client keeps them."""

    __slots__ = ("buckets", "sum")

    def __init__(self) -> None:
        self.buckets = [0.0] * (len(BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.buckets[bisect_left(BUCKETS, seconds)] += 1.0  # the first bound >= seconds, +Inf past the last
        self.sum += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        out, total = [], 0.0
        for bound, count in zip(_BOUNDS, self.buckets):
            total += count
            out.append((bound, total))
        return out


class ContainerSeries:
    __slots__ = ("invocations", "errors_4xx", "errors_5xx", "timeouts", "latency")

    def __init__(self) -> None:
        self.invocations = self.errors_4xx = self.errors_5xx = self.timeouts = 0.0
        self.latency = Latency()


class EndpointMetrics:
    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.lock = threading.Lock()
        self.invocations = self.errors_4xx = self.errors_5xx = self.model_errors = 0.0
        self.model_latency, self.overhead_latency = Latency(), Latency()
        self.containers: dict[str, ContainerSeries] = {}  # in the order they were first called
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(self)

    def container_call(self, container: str, status: int, seconds: float, timed_out: bool = False) -> None:
        """One request to one container; ``status`` 0 means no HTTP answer (timeout, refused)."""
        with self.lock:
            series = self.containers.get(container)
            if series is None:
                series = self.containers[container] = ContainerSeries()
            series.invocations += 1.0
            series.latency.observe(seconds)
            if timed_out:
                series.timeouts += 1.0
            if 400 <= status < 500:
                series.errors_4xx += 1.0
            elif status >= 500 or status == 0:
                series.errors_5xx += 1.0

    def request(self, status: int, total: float, model: float, model_error: bool) -> None:
        """One client request, answered with ``status`` after ``total`` seconds, ``model`` of them in containers."""
        with self.lock:
            self.invocations += 1.0
            if 400 <= status < 500:
                self.errors_4xx += 1.0
            elif status >= 500:
                self.errors_5xx += 1.0
            if model_error:
                self.model_errors += 1.0
            self.model_latency.observe(model)
            self.overhead_latency.observe(max(total - model, 0.0))

    def collect(self):
        """prometheus_client's collector protocol: the families, as its Counter and Histogram would give them."""
        e, ec = ["endpoint"], ["endpoint", "container"]
        with self.lock:
            mine = [self.endpoint]
            for name, doc, value in (
                    ("sagemaker_invocations", "Requests to the endpoint", self.invocations),
                    ("sagemaker_invocation_4xx_errors", "Requests answered 4xx", self.errors_4xx),
                    ("sagemaker_invocation_5xx_errors", "Requests answered 5xx", self.errors_5xx),
                    ("sagemaker_invocation_model_errors",
                     "Requests a container failed (non-2xx, timeout, broken connection)", self.model_errors)):
                family = CounterMetricFamily(name, doc, labels=e)
                family.add_metric(mine, value)
                yield family
            for name, doc, latency in (
                    ("sagemaker_model_latency_seconds", "Time spent in containers, summed over the pipeline",
                     self.model_latency),
                    ("sagemaker_overhead_latency_seconds", "Router time minus model latency", self.overhead_latency)):
                family = HistogramMetricFamily(name, doc, labels=e)
                family.add_metric(mine, latency.cumulative(), latency.sum)
                yield family
            series = [([self.endpoint, name], s) for name, s in self.containers.items()]
            for name, doc, field in (
                    ("sagemaker_container_invocations", "Requests sent to a container", "invocations"),
                    ("sagemaker_container_invocation_4xx_errors", "Container answers 4xx", "errors_4xx"),
                    ("sagemaker_container_invocation_5xx_errors",
                     "Container answers 5xx, timeouts and broken connections", "errors_5xx")):
                family = CounterMetricFamily(name, doc, labels=ec)
                for labels, s in series:
                    family.add_metric(labels, getattr(s, field))
                yield family
            family = HistogramMetricFamily("sagemaker_container_latency_seconds", "Time one container took", labels=ec)
            for labels, s in series:
                family.add_metric(labels, s.latency.cumulative(), s.latency.sum)
            yield family
            family = CounterMetricFamily("sagemaker_container_timeouts", "Container calls that ran past a timeout "
                                         "(the container's, answered 504, or the router's)", labels=ec)
            for labels, s in series:
                family.add_metric(labels, s.timeouts)
            yield family

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
