"""The Runtime API client: one persistent HTTP connection to the agent, no timeout on /next."""
import http.client
import os

BASE = "/2018-06-01/runtime"


class RuntimeApiClient:
    def __init__(self, address=None):
        host, _, port = (address or os.environ["AWS_LAMBDA_RUNTIME_API"]).rpartition(":")
        # No timeout: the process may wait (or be frozen) between invocations for as long as it takes.
        self._conn = http.client.HTTPConnection(host, int(port), timeout=None)

    def next(self):
        """Blocks until the next invocation; returns (request_id, headers lower-cased, body bytes)."""
        status, headers, body = self._request("GET", BASE + "/invocation/next")
        if status != 200:
            raise RuntimeError("/next answered %d: %r" % (status, body[:200]))
        return headers.get("lambda-runtime-aws-request-id"), headers, body

    def post_response(self, request_id, body, content_type="application/json"):
        return self._request(
            "POST", "%s/invocation/%s/response" % (BASE, request_id), body, {"Content-Type": content_type}
        )

    def post_error(self, request_id, body, error_type):
        return self._request(
            "POST",
            "%s/invocation/%s/error" % (BASE, request_id),
            body,
            {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error_type},
        )

    def post_init_error(self, body, error_type):
        return self._request(
            "POST",
            BASE + "/init/error",
            body,
            {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error_type},
        )

    def _request(self, method, path, body=None, headers=None):
        self._conn.request(method, path, body=body, headers=headers or {})
        res = self._conn.getresponse()
        data = res.read()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, data
