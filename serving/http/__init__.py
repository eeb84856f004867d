"""HTTP/1.1 for our own servers and the client that calls them, shared by the container and the router.

Split as uvicorn splits its HTTP stack, so each module holds one concern:

- :mod:`.protocol`: one connection: parse requests with httptools, keep-alive, pipelining,
  ``Expect: 100-continue``, request bodies, answers in one write, closing without losing one;
- :mod:`.wsgi`: the WSGI side of a request: the environ, ``wsgi.input``, ``start_response``;
- :mod:`.server`: the open connections of a server (counted, drained at a stop) and the
  threaded accept loop the router runs (the container's is gunicorn's, in
  :mod:`serving.server.worker`);
- :mod:`.headers`: status lines, the ``Date`` header, and the check every outgoing header passes;
- :mod:`.client`: pooled keep-alive connections to one server, used by the router, the
  endpoint commands and batch transform.

Errors found here (a malformed request, a head too large, a body that stops arriving) are
the typed errors of :mod:`serving.errors`; each server passes the mapping of its surface, so
the router answers them as SageMaker Runtime does and a container as containers do.
"""
