"""One executor: the router and batch transform's in-process engine give the same outcome at the limits.

A three-container pipeline whose sizes the request chooses: the first container answers
``hop`` bytes, the middle one fails when told to, the last answers ``final`` bytes. Each
request runs through a real endpoint (the router, over HTTP) and through the in-process
chain of the same spec; the answers, statuses, error bodies and failure records must match.
"""

from __future__ import annotations

import json
import textwrap

import pytest
import requests

from serving.errors import runtime_response
from serving.pipeline import spec as specs
from serving.pipeline.executor import MB, Limits
from serving.transform import transform
from serving.transform.chain import Chain, Failure, stages_from_spec

SCRIPT = textwrap.dedent("""
    import json
    from pathlib import Path

    from serving.errors import BadRequest

    def model_fn(model_dir):
        return (Path(model_dir) / "role.txt").read_text()

    def transform_fn(role, body, content_type, accept):
        plan = json.loads(body.split(b"\\n", 1)[0])
        line = json.dumps(plan).encode() + b"\\n"
        if role == "first":
            return line + b"x" * (plan["hop"] - len(line)), "application/octet-stream"
        if role == "middle":
            if plan["fail"]:
                raise BadRequest("the middle container refuses this plan")
            return line, "application/octet-stream"
        return b"y" * plan["final"], "application/octet-stream"
""")

CASES = {
    "just under the limits": {"hop": 5 * MB, "fail": False, "final": 6 * MB},
    "a hop just over 5 MB": {"hop": 5 * MB + 1, "fail": False, "final": 10},
    "an answer just over 6 MB": {"hop": 100, "fail": False, "final": 6 * MB + 1},
    "a failing middle container": {"hop": 100, "fail": True, "final": 10},
}


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("sized")
    roles = ("first", "middle", "last")
    for role in roles:
        (root / role / "code").mkdir(parents=True)
        (root / role / "code" / "inference.py").write_text(SCRIPT)
        (root / role / "role.txt").write_text(role)
    spec = {"Containers": [
        {"ContainerHostname": role, "Framework": "model", "ModelDataUrl": str(root / role),
         "Environment": {"SAGEMAKER_MAX_PAYLOAD_IN_MB": "8"}} for role in roles]}
    path = root / "sized.json"
    path.write_text(json.dumps(spec))
    return path


@pytest.fixture(scope="module")
def router(spec_file, endpoints):
    # named as the http engine names the endpoint it brings up, so log labels match too
    return endpoints(specs.load(spec_file), name="transform")


@pytest.fixture(scope="module")
def chain(spec_file):
    return Chain(stages_from_spec(specs.load(spec_file)), limits=Limits())


@pytest.mark.parametrize("case", CASES)
def test_router_and_in_process_chain_answer_alike(case, router, chain):
    body = json.dumps(CASES[case]).encode()
    over_http = requests.post(router.url + "/invocations", data=body, headers={"Content-Type": "application/octet-stream"},
                              timeout=60)
    in_process = chain.invoke(body, "application/octet-stream", None)
    if over_http.status_code == 200:
        assert case == "just under the limits"
        assert (in_process.body, in_process.content_type) == (over_http.content, over_http.headers["Content-Type"])
        assert len(in_process.body) == 6 * MB
        return
    assert isinstance(in_process, Failure)
    error = over_http.json()
    assert over_http.status_code == 424 and over_http.headers["x-amzn-ErrorType"] == "ModelError"
    assert (in_process.container, in_process.status, in_process.message) == (
        over_http.headers["X-Serving-Failed-Container"], error["OriginalStatusCode"], error["Message"])


def test_the_failures_are_worded_as_sagemaker_words_them(router):
    answers = {case: requests.post(router.url + "/invocations", data=json.dumps(plan).encode(),
                                   headers={"Content-Type": "application/octet-stream"}, timeout=60).json()
               for case, plan in CASES.items() if case != "just under the limits"}
    assert answers["a hop just over 5 MB"]["Message"] == (
        "Received response from first with status code 200. However, the request payload from first to middle is "
        "5242881 bytes, which has exceeded the maximum limit of 5 MB. Send fewer records per request or raise the "
        "limit (--max-hop-mb).")
    assert answers["an answer just over 6 MB"]["Message"] == (
        "Received response from last with status code 200. However, the response payload from last to the client is "
        "6291457 bytes, which has exceeded the maximum limit of 6 MB. Send fewer records per request or raise the "
        "limit (--max-response-mb).")
    failing = answers["a failing middle container"]
    assert failing == {
        "ErrorCode": "ModelError",
        "Message": 'Received client error (400) from middle with message "{"error": "BadRequest", "message": "the '
                   'middle container refuses this plan"}". See the log lines prefixed [transform/middle] for more '
                   "information.",
        "OriginalStatusCode": 400,
        "OriginalMessage": '{"error": "BadRequest", "message": "the middle container refuses this plan"}',
        "LogStreamArn": "transform/AllTraffic/local/middle"}


def test_an_in_process_failure_maps_to_the_routers_response(router, chain):
    """The error the in-process executor raises is the body the router sends, through the one mapping."""
    from serving.pipeline import executor

    body = json.dumps(CASES["a failing middle container"]).encode()
    with pytest.raises(Exception) as raised:
        executor.run(chain.steps, executor.Request(body, "application/octet-stream"), Limits())
    status, headers, mapped = runtime_response(raised.value)
    over_http = requests.post(router.url + "/invocations", data=body, headers={"Content-Type": "application/octet-stream"},
                              timeout=60)
    assert (status, json.loads(mapped)) == (over_http.status_code, over_http.json())
    assert dict(headers)["X-Serving-Failed-Container"] == over_http.headers["X-Serving-Failed-Container"]


def test_batch_transform_reports_the_same_failure_from_either_engine(spec_file, tmp_path):
    """A job's limits are the endpoint's raised to its MaxPayloadInMB (6 here): a hop of 6 MB + 1 is refused."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "hop.json").write_text(json.dumps({"hop": 6 * MB + 1, "fail": False, "final": 10}))
    (tmp_path / "in" / "fail.json").write_text(json.dumps(CASES["a failing middle container"]))
    reports = {}
    for engine in ("http", "inprocess"):
        result = transform(str(tmp_path / "in"), str(tmp_path / engine), model=str(spec_file), engine=engine,
                           ContentType="application/octet-stream", MaxPayloadInMB=6)
        assert result.written == 0
        reports[engine] = sorted((f["file"], f["container"], f["status"], f["message"]) for f in result.failed)
    assert reports["http"] == reports["inprocess"]
    assert [r[1:3] for r in reports["http"]] == [("middle", 400), ("first", 200)]
