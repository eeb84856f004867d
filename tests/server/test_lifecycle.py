"""Start-up, limits, logs, model archives and graceful shutdown of a real server."""

import io
import json
import shutil
import signal
import tarfile
import textwrap
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import ServerProcess
from serving.errors import ConfigurationError
from serving.handlers.archive import extract, resolve_model_dir
from serving.settings import Settings

SLOW = """
    import time

    def model_fn(model_dir):
        return None

    def predict_fn(data, model):
        time.sleep(float(data[0, 0]))
        return data
"""


def script_dir(tmp_path, script):
    code = tmp_path / "m" / "code"
    code.mkdir(parents=True)
    (code / "inference.py").write_text(textwrap.dedent(script))
    return tmp_path / "m"


# -- settings ------------------------------------------------------------------------------
def test_flags_override_environment_which_overrides_defaults():
    env = {"SAGEMAKER_BIND_TO_PORT": "9001", "SAGEMAKER_MODEL_SERVER_WORKERS": "3", "SM_MODEL_DIR": "/models"}
    s = Settings.from_env(env)
    assert (s.port, s.workers, s.model_dir, s.timeout, s.max_payload_mb) == (9001, 3, "/models", 60, 6.0)
    s = Settings.from_env(env, port=9002)
    assert s.port == 9002
    assert Settings.from_env({}).port == 8080


def test_bad_setting_names_the_variable():
    with pytest.raises(ConfigurationError, match=r"SAGEMAKER_BIND_TO_PORT='http' is not valid: expected a whole number"):
        Settings.from_env({"SAGEMAKER_BIND_TO_PORT": "http"})


def test_log_level_accepts_numbers_and_names():
    assert Settings.from_env({"SAGEMAKER_CONTAINER_LOG_LEVEL": "10"}).log_level == 10
    assert Settings.from_env({"SAGEMAKER_CONTAINER_LOG_LEVEL": "warning"}).log_level == 30


def test_invalid_flag_value_exits_with_a_message(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "serving.cli", "serve", "--model-dir", str(tmp_path)],
                       env={"SAGEMAKER_MODEL_SERVER_WORKERS": "many", "PATH": "/usr/bin"}, capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr == "serving: SAGEMAKER_MODEL_SERVER_WORKERS='many' is not valid: expected a whole number\n"


# -- model archives ------------------------------------------------------------------------
def make_tar(path, entries):
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = data
                tar.addfile(info)
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = data
                tar.addfile(info)
    return path


@pytest.mark.parametrize("entries, message", [
    ([("/etc/evil", "file", b"x")], "entry '/etc/evil' has an absolute path"),
    ([("../evil", "file", b"x")], "entry '../evil' climbs out with '..'"),
    ([("a/../../evil", "file", b"x")], "entry 'a/../../evil' climbs out with '..'"),
    ([("link", "symlink", "/etc/passwd")], "link 'link' points outside the archive ('/etc/passwd')"),
    ([("d/link", "symlink", "../../x")], "link 'd/link' points outside the archive ('../../x')"),
    ([("hard", "hardlink", "../x")], "link 'hard' points outside the archive ('../x')"),
])
def test_unsafe_tar_entries_are_refused(tmp_path, entries, message):
    archive = make_tar(tmp_path / "model.tar.gz", entries)
    with pytest.raises(ConfigurationError) as err:
        extract(archive, tmp_path / "out")
    assert str(err.value) == f"{archive}: {message}; refusing to extract"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_safe_links_inside_the_archive_are_kept(tmp_path):
    archive = make_tar(tmp_path / "model.tar.gz", [("a/model.bin", "file", b"w"), ("a/latest", "symlink", "model.bin")])
    out = extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "a" / "latest").read_bytes() == b"w"
    assert out == str(tmp_path / "out")


def test_model_tar_gz_is_served_from_a_directory_or_given_directly(tmp_path, serve, abalone_models):
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(abalone_models[1] / "model.joblib", "model.joblib")
    (tmp_path / "dir").mkdir()
    shutil.copy(tmp_path / "model.tar.gz", tmp_path / "dir" / "model.tar.gz")
    for model in (tmp_path / "model.tar.gz", tmp_path / "dir"):
        server = serve(model, framework="sklearn")
        r = server.invoke(",".join(["0.1"] * 10))
        assert r.status_code == 200, r.text
        assert len(r.json()) == 1


def test_unsafe_model_archive_fails_the_ping_with_the_reason(tmp_path, serve):
    make_tar(tmp_path / "model.tar.gz", [("../evil.joblib", "file", b"x")])
    server = serve(tmp_path / "model.tar.gz", framework="sklearn")
    r = server.get("/ping")
    assert r.status_code == 503
    assert r.text == (f"the model failed to load: {tmp_path / 'model.tar.gz'}: entry '../evil.joblib' climbs out "
                      "with '..'; refusing to extract\n")


def test_model_dir_with_two_models_is_a_clear_start_up_error(tmp_path, serve, abalone_models):
    for name in ("a.joblib", "b.pkl"):
        shutil.copy(abalone_models[1] / "model.joblib", tmp_path / name)
    server = serve(tmp_path, framework="sklearn")
    assert server.get("/ping").text == (
        f"the model failed to load: 2 model files in {tmp_path} (a.joblib, b.pkl): keep one, or define model_fn\n")


def test_resolve_model_dir_rejects_a_missing_path(tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        resolve_model_dir(str(tmp_path / "nope"))


# -- limits --------------------------------------------------------------------------------
def test_body_over_the_payload_limit_is_413_before_it_is_read(tmp_path, serve):
    server = serve(script_dir(tmp_path, SLOW), framework="model", env={"SAGEMAKER_MAX_PAYLOAD_IN_MB": "1"})
    r = server.invoke(b"0\n" * 600_000)
    assert r.status_code == 413
    assert r.json()["message"] == (
        "the request body is 1200000 bytes, over the limit of 1048576 bytes (1 MB, SAGEMAKER_MAX_PAYLOAD_IN_MB); "
        "send fewer rows per request")
    # a chunked body without Content-Length is measured as it is read
    r = requests.post(server.url + "/invocations", data=iter([b"0\n" * 300_000] * 2), headers={"Content-Type": "text/csv"})
    assert r.status_code == 413
    assert server.invoke("0").status_code == 200


# -- logs ----------------------------------------------------------------------------------
def test_one_log_line_per_request_and_ping_only_at_debug(tmp_path, serve):
    server = serve(script_dir(tmp_path, SLOW), framework="model")
    server.get("/ping")
    server.invoke("0", **{"X-Amzn-SageMaker-Inference-Id": "req-42"})
    time.sleep(0.2)
    lines = [line for line in server.log().splitlines() if "serving.access" in line]
    assert len(lines) == 1
    assert " POST /invocations 200 " in lines[0] and "id=req-42" in lines[0]


def test_json_log_lines_at_debug_include_ping(tmp_path, serve):
    server = serve(script_dir(tmp_path, SLOW), framework="model",
                   env={"SERVING_LOG_FORMAT": "json", "SAGEMAKER_CONTAINER_LOG_LEVEL": "DEBUG"})
    server.get("/ping")
    server.invoke("0", **{"X-Amzn-SageMaker-Inference-Id": "req-7"})
    time.sleep(0.2)
    entries = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    access = [e for e in entries if e["logger"] == "serving.access"][-2:]  # (the start-up wait pings too)
    assert [(e["level"], e["path"], e["status"]) for e in access] == [("DEBUG", "/ping", 200), ("INFO", "/invocations", 200)]
    assert access[1]["request_id"] == "req-7"
    assert access[1]["latency_ms"] > 0


# -- shutdown ------------------------------------------------------------------------------
def test_sigterm_lets_the_request_in_flight_finish(tmp_path):
    server = ServerProcess(script_dir(tmp_path, SLOW), framework="model")
    result = {}

    def slow_request():
        result["response"] = server.invoke("1.5")

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.5)  # the request is inside predict_fn now
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    thread.join(10)
    code = server.proc.wait(15)
    assert result["response"].status_code == 200
    assert result["response"].json() == [[1.5]]
    assert code == 0
    assert time.monotonic() - started < 10
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/ping", timeout=1)
    server.stop()


def test_the_folder_a_model_archive_was_extracted_to_is_removed_at_stop(tmp_path, serve, abalone_models):
    import re

    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(abalone_models[1] / "model.joblib", "model.joblib")
    server = serve(tmp_path / "model.tar.gz", framework="sklearn", workers=2)
    assert server.get("/ping").status_code == 200
    folder = Path(re.search(r"extracting \S+ to (\S+)", server.log()).group(1))
    assert (folder / "model.joblib").is_file()
    assert server.stop() == 0
    assert not folder.exists()


def test_a_sigterm_that_reached_a_worker_before_its_own_handlers_still_stops_it():
    """Between fork and gunicorn's post_fork hook the master's handler only queues the signal."""
    import queue
    import types

    from serving.server.worker import stop_early

    for queued in ([], [signal.SIGCHLD], [signal.SIGTERM]):
        inherited = queue.SimpleQueue()
        for sig in queued:
            inherited.put_nowait(sig)
        worker = types.SimpleNamespace(alive=True, handle_exit=lambda *args: None)
        previous = signal.getsignal(signal.SIGTERM)
        try:
            stop_early(types.SimpleNamespace(SIG_QUEUE=inherited), worker)
        finally:
            signal.signal(signal.SIGTERM, previous)
        assert worker.alive is (signal.SIGTERM not in queued)
