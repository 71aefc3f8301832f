#!/usr/bin/env python3
"""A local fake of both email provider APIs, and of every other integration type's service (fake_services.py),
for first runs, black-box checks and browser tests.

    python scripts/fake_providers.py --port 8025
    EMAIL_PROVIDER_A_API_URL=http://127.0.0.1:8025/a   (Resend API)
    EMAIL_PROVIDER_B_API_URL=http://127.0.0.1:8025/b   (SendGrid v3 API)

The API key steers failures: a key containing `reject` gets 401, `ratelimit` 429 (Retry-After: 1),
`servererror` 500, `slow` an answer after 12 s (past the 10 s timeout); any other key succeeds.
Provider A also takes `POST /emails/batch` (up to 100 emails, no attachments; `x-batch-validation:
permissive` answers the invalid ones by index in `errors`), idempotent per `Idempotency-Key` like
`POST /emails`: a repeated key gets the first answer and sends nothing again.

Rate limits, as a provider account has them: `--requests-per-second N` (or `POST /_config
{"requestsPerSecond": N}`) allows each API key N calls per second (a token bucket holding N), and answers
429 with Retry-After beyond that; `POST /_config {"throttle": {"<api key>": seconds}}` answers that key
429 for `seconds` from its next call, whatever the rate.

`GET /_sent` lists each email sent once (without the Authorization header), `GET /_calls` every call
with its time, path, status and a fingerprint of its key; `POST /_reset` forgets both (and any throttle).
Standard library only: it runs before the app's requirements are installed.
"""

import argparse
import hashlib
import json
import math
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

try:
    from scripts.fake_services import ServiceFakes
except ImportError:  # run as a script: scripts/ itself is on sys.path
    from fake_services import ServiceFakes

TEMPLATES_A = [
    {"id": f"tmpl_{n:03d}", "name": name, "created_at": f"2026-01-{10 + n:02d} 09:00:00.000+00"}
    for n, name in enumerate(["Welcome Email", "Engagement Letter", "Document Request", "Invoice Reminder", "Matter Closed"])
]
TEMPLATES_B = [
    {"id": f"d-{n:032x}", "name": name, "generation": "dynamic", "updated_at": f"2026-01-{10 + n:02d} 09:00:00"}
    for n, name in enumerate(["Client Onboarding", "Signature Request", "Weekly Digest"])
]


MAX_BATCH = 100


class State:
    def __init__(self, requests_per_second: float | None = None):
        self.lock = threading.RLock()  # replies are logged under it, also from inside it
        self.sent: list[dict] = []
        self.calls: list[dict] = []
        self.idempotent: dict[str, object] = {}
        self.requests_per_second = requests_per_second
        self.buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when counted)
        self.throttled_until: dict[str, float] = {}  # key -> time
        self.throttles: dict[str, float] = {}  # key -> seconds, starting at its next call

    def reset(self):
        self.sent.clear()
        self.calls.clear()
        self.idempotent.clear()
        self.buckets.clear()
        self.throttled_until.clear()
        self.throttles.clear()

    def wait_for_turn(self, key: str, now: float) -> float:
        """0 when `key` may call now (its token is taken), else the seconds until it may. Under the lock."""
        if key in self.throttles:
            self.throttled_until[key] = now + self.throttles.pop(key)
        throttled = self.throttled_until.get(key, 0.0) - now
        if throttled > 0:
            return throttled
        rate = self.requests_per_second
        if not rate:
            return 0.0
        tokens, counted = self.buckets.get(key, (rate, now))
        tokens = min(rate, tokens + (now - counted) * rate)
        if tokens >= 1:
            self.buckets[key] = (tokens - 1, now)
            return 0.0
        self.buckets[key] = (tokens, now)
        return (1 - tokens) / rate


class Handler(ServiceFakes, BaseHTTPRequestHandler):
    server_version = "FakeProviders/1.0"
    protocol_version = "HTTP/1.1"  # keep-alive, as the real APIs: every answer carries its Content-Length
    disable_nagle_algorithm = True  # headers and body are written apart: without this each answer waits 40 ms
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
        try:
            return json.loads(self._raw or b"{}")
        except ValueError:
            return None

    def _key(self):
        auth = self.headers.get("Authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else ""

    def _reply_and_log(self, path, status, body=None, headers=None):
        with self.state.lock:
            fingerprint = hashlib.sha256(self._key().encode()).hexdigest()[:12]
            call = {"at": time.time(), "path": path, "status": status, "key": fingerprint}
            if headers and "Retry-After" in headers:
                call["retryAfter"] = float(headers["Retry-After"])
            self.state.calls.append(call)
        self._reply(status, body, headers)

    def _failure(self, provider):
        """None when the key may proceed, else the (status, body, headers) the provider would answer."""
        key = self._key()

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
        with self.state.lock:
            wait = self.state.wait_for_turn(key, time.time())
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait)))
            return error(429, "rate_limit_exceeded", "Too many requests.", {"Retry-After": retry_after})
        return None

    def _route(self, method):
        # Read the whole body first, whatever the answer: on a kept-alive connection an unread body would be
        # taken for the next request.
        self._raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = urlsplit(self.path)
        provider, _, rest = parts.path.lstrip("/").partition("/")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/_sent" and method == "GET":
            with self.state.lock:
                return self._reply(200, list(self.state.sent))
        if parts.path == "/_calls" and method == "GET":
            with self.state.lock:
                return self._reply(200, list(self.state.calls))
        if parts.path == "/_reset" and method == "POST":
            with self.state.lock:
                self.state.reset()
            return self._reply(204)
        if parts.path == "/_config" and method == "POST":
            return self._configure(self._body() or {})
        if provider not in ("a", "b") and self._service(provider, method, rest.rstrip("/"), query):
            return None
        handler = {
            ("a", "GET", "templates"): self._resend_templates,
            ("a", "POST", "emails"): self._resend_send,
            ("a", "POST", "emails/batch"): self._resend_batch,
            ("b", "GET", "v3/templates"): self._sendgrid_templates,
            ("b", "POST", "v3/mail/send"): self._sendgrid_send,
        }.get((provider, method, rest.rstrip("/")))
        if handler is None:
            return self._reply(404, {"message": "Not found"})
        failure = self._failure(provider)
        if failure:
            return self._reply_and_log(parts.path, *failure)
        return handler(query)

    def _configure(self, config):
        with self.state.lock:
            if "requestsPerSecond" in config:
                self.state.requests_per_second = config["requestsPerSecond"] or None
                self.state.buckets.clear()
            for key, seconds in (config.get("throttle") or {}).items():
                self.state.throttles[key] = float(seconds)
        return self._reply(204)

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def do_PATCH(self):
        self._route("PATCH")

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
                return self._reply_and_log("/a/emails", 200, {"id": self.state.idempotent[key]})
            message_id = str(uuid.uuid4())
            if key:
                self.state.idempotent[key] = message_id
            self.state.sent.append(self._record("a", body, message_id))
        self._reply_and_log("/a/emails", 200, {"id": message_id})

    def _resend_batch(self, query):
        emails = self._body()
        if not isinstance(emails, list) or not 1 <= len(emails) <= MAX_BATCH:
            return self._reply_and_log("/a/emails/batch", 422, {"statusCode": 422, "name": "validation_error",
                                                                "message": f"Send 1 to {MAX_BATCH} emails."})  # fmt: skip
        permissive = self.headers.get("x-batch-validation", "strict").lower() == "permissive"
        errors = [{"index": index, "message": why} for index, email in enumerate(emails) if (why := _batch_problem(email))]
        if errors and not permissive:
            return self._reply_and_log("/a/emails/batch", 422, {"statusCode": 422, "name": "validation_error", "message": errors[0]["message"]})
        key = self.headers.get("Idempotency-Key")
        with self.state.lock:
            if key and key in self.state.idempotent:  # the same key is the same batch: nothing sent again
                return self._reply_and_log("/a/emails/batch", 200, self.state.idempotent[key])
            refused = {error["index"] for error in errors}
            data = []
            for index, email in enumerate(emails):
                if index not in refused:
                    data.append({"id": str(uuid.uuid4())})
                    self.state.sent.append(self._record("a", email, data[-1]["id"]))
            answer = {"data": data, "errors": errors} if permissive else {"data": data}
            if key:
                self.state.idempotent[key] = answer
        self._reply_and_log("/a/emails/batch", 200, answer)

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
        self._reply_and_log("/b/v3/mail/send", 202, None, {"X-Message-Id": message_id})

    def _record(self, provider, body, message_id):
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        return {"provider": provider, "messageId": message_id, "headers": headers, "body": body, "at": time.time()}


def _batch_problem(email) -> str:
    """Why Resend would refuse one email of a batch, or ""."""
    if not isinstance(email, dict) or not email.get("to") or not email.get("from"):
        return "The `to` and `from` fields are required."
    if email.get("attachments"):
        return "Attachments are not supported in batch sending."
    return ""


def make_server(port=0, host="127.0.0.1", requests_per_second: float | None = None) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"state": State(requests_per_second)})
    server_class = type("FakeServer", (ThreadingHTTPServer,), {"request_queue_size": 128})  # many senders at once
    server = server_class((host, port), handler)
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
    parser.add_argument("--requests-per-second", type=float, default=None, help="per API key; 429 beyond it")
    args = parser.parse_args()
    server = make_server(args.port, requests_per_second=args.requests_per_second)
    print(f"Fake services on http://127.0.0.1:{args.port}: /a (Resend), /b (SendGrid), /carbone, /slack, /airtable, "
          "/hubspot, /drive and /google/token, /hooks (a webhook receiver)", flush=True)  # fmt: skip
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
