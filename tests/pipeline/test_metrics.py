"""The endpoint's /metrics text is what prometheus_client's own Counter and Histogram give for the same calls."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from serving.pipeline.metrics import BUCKETS, EndpointMetrics


def reference(endpoint: str, calls, requests) -> bytes:
    """The same series kept the library's way: one Counter or Histogram each, labels bound per call."""
    r, e, ec = CollectorRegistry(auto_describe=True), ["endpoint"], ["endpoint", "container"]
    invocations = Counter("sagemaker_invocations", "Requests to the endpoint", e, registry=r).labels(endpoint)
    e4 = Counter("sagemaker_invocation_4xx_errors", "Requests answered 4xx", e, registry=r).labels(endpoint)
    e5 = Counter("sagemaker_invocation_5xx_errors", "Requests answered 5xx", e, registry=r).labels(endpoint)
    me = Counter("sagemaker_invocation_model_errors", "Requests a container failed (non-2xx, timeout, broken "
                 "connection)", e, registry=r).labels(endpoint)
    model = Histogram("sagemaker_model_latency_seconds", "Time spent in containers, summed over the pipeline", e,
                      registry=r, buckets=BUCKETS).labels(endpoint)
    overhead = Histogram("sagemaker_overhead_latency_seconds", "Router time minus model latency", e, registry=r,
                         buckets=BUCKETS).labels(endpoint)
    c_inv = Counter("sagemaker_container_invocations", "Requests sent to a container", ec, registry=r)
    c4 = Counter("sagemaker_container_invocation_4xx_errors", "Container answers 4xx", ec, registry=r)
    c5 = Counter("sagemaker_container_invocation_5xx_errors", "Container answers 5xx, timeouts and broken connections",
                 ec, registry=r)
    c_lat = Histogram("sagemaker_container_latency_seconds", "Time one container took", ec, registry=r, buckets=BUCKETS)
    c_to = Counter("sagemaker_container_timeouts", "Container calls that ran past a timeout (the container's, "
                   "answered 504, or the router's)", ec, registry=r)
    for name, status, seconds, timed_out in calls:
        labels = (endpoint, name)
        series = [m.labels(*labels) for m in (c_inv, c_lat, c4, c5, c_to)]
        series[0].inc()
        series[1].observe(seconds)
        if timed_out:
            series[4].inc()
        if 400 <= status < 500:
            series[2].inc()
        elif status >= 500 or status == 0:
            series[3].inc()
    for status, total, spent, model_error in requests:
        invocations.inc()
        if 400 <= status < 500:
            e4.inc()
        elif status >= 500:
            e5.inc()
        if model_error:
            me.inc()
        model.observe(spent)
        overhead.observe(max(total - spent, 0.0))
    return generate_latest(r)


seconds = st.one_of(st.sampled_from([0.0, *BUCKETS, 61.0]), st.floats(0, 120, allow_nan=False))
statuses = st.sampled_from([0, 200, 204, 400, 404, 424, 499, 500, 503, 504])


@settings(max_examples=150, deadline=None)
@given(calls=st.lists(st.tuples(st.sampled_from(["featurizer", "regressor", "post"]), statuses, seconds, st.booleans()),
                      max_size=30),
       requests=st.lists(st.tuples(statuses, seconds, seconds, st.booleans()), max_size=20))
def test_the_exposition_is_the_librarys(calls, requests):
    metrics = EndpointMetrics("abalone")
    for call in calls:
        metrics.container_call(*call[:3], timed_out=call[3])
    for request in requests:
        metrics.request(*request)
    assert metrics.exposition().decode() == reference("abalone", calls, requests).decode()


def test_a_fresh_endpoint_shows_its_endpoint_series_at_zero():
    text = EndpointMetrics("e").exposition().decode()
    assert 'sagemaker_invocations_total{endpoint="e"} 0.0' in text
    assert 'sagemaker_model_latency_seconds_bucket{endpoint="e",le="+Inf"} 0.0' in text
    assert "container=" not in text
    assert text == reference("e", [], []).decode()
