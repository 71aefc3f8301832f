#!/usr/bin/env python3
"""A local fake of both email provider APIs, for first runs, black-box checks and browser tests.

    python scripts/fake_providers.py --port 8025
    EMAIL_PROVIDER_A_API_URL=http://127.0.0.1:8025/a   (Resend API)
    EMAIL_PROVIDER_B_API_URL=http://127.0.0.1:8025/b   (SendGrid v3 API)

The API key steers failures: a key containing `reject` gets 401, `ratelimit` 429 (Retry-After: 1),
`servererror` 500, `slow` an answer after 12 s (past the 10 s timeout); any other key succeeds.
`GET /_sent` lists what was sent (without the Authorization header); `POST /_reset` forgets it.
Standard library only: it runs before the app's requirements are installed.
"""

import argparse
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TEMPLATES_A = [
    {"id": f"tmpl_{n:03d}", "name": name, "created_at": f"2026-01-{10 + n:02d} 09:00:00.000+00"}
    for n, name in enumerate(["Welcome Email", "Engagement Letter", "Document Request", "Invoice Reminder", "Matter Closed"])
]
TEMPLATES_B = [
    {"id": f"d-{n:032x}", "name": name, "generation": "dynamic", "updated_at": f"2026-01-{10 + n:02d} 09:00:00"}
    for n, name in enumerate(["Client Onboarding", "Signature Request", "Weekly Digest"])
]


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.sent: list[dict] = []
        self.idempotent: dict[str, str] = {}


class Handler(BaseHTTPRequestHandler):
    server_version = "FakeProviders/1.0"
    state: State  # set on the class by make_server

    def log_message(self, format, *args):  # quiet: tests read /_sent instead
        pass

    # Plumbing ------------------------------------------------------------------------------------

    def _reply(self, status, body=None, headers=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return None

    def _failure(self, provider):
        """None when the key may proceed, else the (status, body, headers) the provider would answer."""
        auth = self.headers.get("Authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else ""

        def error(status, name, message, headers=None):
            if provider == "a":
                return status, {"statusCode": status, "name": name, "message": message}, headers
            return status, {"errors": [{"message": message, "field": None}]}, headers

        if not key or "reject" in key:
            return error(401, "invalid_api_key", "API key is invalid")
        if "ratelimit" in key:
            return error(429, "rate_limit_exceeded", "Too many requests", {"Retry-After": "1"})
        if "servererror" in key:
            return error(500, "internal_server_error", "Something went wrong")
        if "slow" in key:
            time.sleep(12)
        return None

    def _route(self, method):
        parts = urlsplit(self.path)
        provider, _, rest = parts.path.lstrip("/").partition("/")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/_sent" and method == "GET":
            with self.state.lock:
                return self._reply(200, list(self.state.sent))
        if parts.path == "/_reset" and method == "POST":
            with self.state.lock:
                self.state.sent.clear()
                self.state.idempotent.clear()
            return self._reply(204)
        handler = {
            ("a", "GET", "templates"): self._resend_templates,
            ("a", "POST", "emails"): self._resend_send,
            ("b", "GET", "v3/templates"): self._sendgrid_templates,
            ("b", "POST", "v3/mail/send"): self._sendgrid_send,
        }.get((provider, method, rest.rstrip("/")))
        if handler is None:
            return self._reply(404, {"message": "Not found"})
        failure = self._failure(provider)
        if failure:
            return self._reply(*failure)
        return handler(query)

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    # Provider A: Resend --------------------------------------------------------------------------

    def _resend_templates(self, query):
        limit = int(query.get("limit", 20))
        after = query.get("after")
        start = next((i + 1 for i, t in enumerate(TEMPLATES_A) if t["id"] == after), 0) if after else 0
        page = TEMPLATES_A[start : start + limit]
        self._reply(200, {"object": "list", "has_more": start + limit < len(TEMPLATES_A), "data": page})

    def _resend_send(self, query):
        body = self._body()
        if not isinstance(body, dict) or not body.get("to") or not body.get("from"):
            return self._reply(422, {"statusCode": 422, "name": "validation_error", "message": "Missing `to` or `from`."})
        key = self.headers.get("Idempotency-Key")
        with self.state.lock:
            if key and key in self.state.idempotent:  # the same key is the same email: no second send
                return self._reply(200, {"id": self.state.idempotent[key]})
            message_id = str(uuid.uuid4())
            if key:
                self.state.idempotent[key] = message_id
            self.state.sent.append(self._record("a", body, message_id))
        self._reply(200, {"id": message_id})

    # Provider B: SendGrid ------------------------------------------------------------------------

    def _sendgrid_templates(self, query):
        if query.get("generations") != "dynamic" or "page_size" not in query:
            return self._reply(400, {"errors": [{"message": "generations=dynamic and page_size are required here"}]})
        size = int(query["page_size"])
        start = int(query.get("page_token", 0))
        page = TEMPLATES_B[start : start + size]
        metadata = {"self": self.path}
        if start + size < len(TEMPLATES_B):
            host = self.headers.get("Host", "127.0.0.1")
            metadata["next"] = f"http://{host}/b/v3/templates?generations=dynamic&page_size={size}&page_token={start + size}"
        self._reply(200, {"result": page, "_metadata": metadata})

    def _sendgrid_send(self, query):
        body = self._body()
        if not isinstance(body, dict) or not body.get("personalizations") or not body.get("from"):
            return self._reply(400, {"errors": [{"message": "personalizations and from are required"}]})
        message_id = uuid.uuid4().hex[:22]
        with self.state.lock:
            self.state.sent.append(self._record("b", body, message_id))
        self._reply(202, None, {"X-Message-Id": message_id})

    def _record(self, provider, body, message_id):
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        return {"provider": provider, "messageId": message_id, "headers": headers, "body": body}


def make_server(port=0, host="127.0.0.1") -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"state": State()})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve_in_thread(port=0):
    """Start the fake on a free port in a daemon thread; returns (server, base_url). Stop with server.shutdown()."""
    server = make_server(port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args()
    server = make_server(args.port)
    print(f"Fake email providers on http://127.0.0.1:{args.port}/a (Resend) and /b (SendGrid)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
