"""Smaller mistakes that surfaced as the wrong error."""

from __future__ import annotations

import json
import socket

import pytest

from tests.pipeline.conftest import probe


@pytest.fixture(scope="module")
def endpoint(endpoints):
    return endpoints({"Containers": [probe("only")]}, name="small")


@pytest.mark.parametrize("token", ["é".encode(), b"\xff\xfe", "токен".encode()], ids=["latin", "bytes", "cyrillic"])
def test_an_admin_token_that_is_not_ascii_is_403_not_500(endpoint, token):
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=5) as sock:
        sock.sendall(b"GET /admin/status HTTP/1.1\r\nHost: x\r\nX-Serving-Admin-Token: " + token + b"\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 Forbidden")
    assert json.loads(body) == {"error": "Forbidden", "message": "admin routes take requests from this machine with "
                                                                 "the endpoint's admin token only"}
