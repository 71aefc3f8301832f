"""Black box over HTTP: a gunicorn server started with the SPEC's environment variables, people and tokens
made with the SPEC's management commands, then the API exercised as a client would, against a local fake
of both providers. On PostgreSQL when DATABASE_URL says so, else on a fresh SQLite file."""

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from scripts.fake_providers import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
CANARY = "re_CANARY_blackbox_4e2a9c7b1d"


def _listening_socket() -> socket.socket:
    """A socket bound to a free port and already listening, for gunicorn to inherit (`fd://N`).

    No other process can take the port between choosing it and gunicorn binding it, as it could with a port
    probed and released; and requests made while the workers load wait in its backlog instead of being refused.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.set_inheritable(True)
    return listener


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no output)"


def _wait_until_serving(base: str, process: subprocess.Popen, log: Path, seconds: float = 90) -> None:
    """Polls /healthz until a worker answers. The socket accepts at once, so until a worker has loaded Django
    a request connects and then times out reading: that is expected, and retried, until the deadline."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with status {process.returncode}:\n{_tail(log)}")
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer /healthz within {seconds:.0f} s:\n{_tail(log)}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("blackbox")
    fake, fake_url = serve_in_thread()
    database_url = os.environ.get("DATABASE_URL", "")
    if database_url.startswith("postgres"):
        import psycopg

        name = f"opbox_blackbox_{uuid.uuid4().hex[:8]}"
        admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        database_url = database_url.rsplit("/", 1)[0] + f"/{name}"
    else:
        admin_url = name = None
        database_url = f"sqlite:///{workdir / 'db.sqlite3'}"
    env = {
        "PATH": os.environ["PATH"],
        "OPBOX_ENV_FILE": "/nonexistent",
        "DEBUG": "false",
        "SECRET_KEY": "black-box-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "OPBOX_ENCRYPTION_KEYS": "dGVzdC1rZXktb25lLTMyLWJ5dGVzLWxvbmctLS0tLS0=",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "EMAIL_PROVIDER_A_API_URL": f"{fake_url}/a",
        "EMAIL_PROVIDER_B_API_URL": f"{fake_url}/b",
        "EMAIL_SEND_MAX_BACKOFF": "0",
        "TASKS_BACKEND": "immediate",  # no db_worker here: the answers below are those of inline sends
        "DJANGO_SETTINGS_MODULE": "opbox.settings",
    }

    def manage(*args):
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    process = None
    log = workdir / "gunicorn.log"
    try:
        manage("migrate", "--noinput")
        manage("collectstatic", "--noinput")  # the build step of a release: pages need the hashed stylesheet
        manage("createworkspace", "acme", "--name", "Acme Legal")
        manage("createworkspace", "globex")
        people = {}
        for slug, email, role in [
            ("acme", "owner@acme.example", "OWNER"), ("acme", "admin@acme.example", "ADMIN"),
            ("acme", "member@acme.example", "MEMBER"), ("globex", "admin@globex.example", "ADMIN"),
        ]:  # fmt: skip
            manage("addmember", slug, email, "--role", role, "--password", "a long test password")
            people[email] = manage("createtoken", slug, email)

        # gunicorn's output goes to a file, never to a pipe nobody reads (a full pipe would block its logging).
        # No control socket: its default path ($HOME/.gunicorn/gunicorn.ctl) is shared by every gunicorn of the user.
        with _listening_socket() as listener, log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--no-control-socket", "opbox.wsgi"],
                cwd=ROOT, env={**env, "BIND": f"fd://{listener.fileno()}", "WEB_CONCURRENCY": "2"},
                pass_fds=[listener.fileno()], stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
            base = f"http://127.0.0.1:{listener.getsockname()[1]}"
        _wait_until_serving(base, process, log)
        ready = requests.get(f"{base}/readyz", timeout=30)
        assert ready.status_code == 200, ready.text
        yield {"base": base, "tokens": people, "fake": fake_url}
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        fake.shutdown()
        if name:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _client(server, email):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {server['tokens'][email]}"
    base = server["base"]
    return lambda method, path, **kw: session.request(method, base + path, timeout=30, **kw)


@pytest.mark.slow
def test_the_api_as_a_client_sees_it(server):
    owner = _client(server, "owner@acme.example")
    admin = _client(server, "admin@acme.example")
    member = _client(server, "member@acme.example")
    stranger = _client(server, "admin@globex.example")
    anonymous = lambda method, path, **kw: requests.request(method, server["base"] + path, timeout=30, **kw)  # noqa: E731

    # Tokens are printed alone, and authenticate.
    assert all(t.startswith("opbx_") and len(t) > 40 and "\n" not in t for t in server["tokens"].values())
    assert anonymous("GET", "/api/integrations").status_code == 401
    assert member("GET", "/api/integrations").json() == []

    # Create, as the seed shows it.
    created = admin("POST", "/api/integrations", json={
        "name": "Production Email", "type": "EMAIL_PROVIDER",
        "config": {"fromEmail": "noreply@example.com", "fromName": "Opbox Notifications"},
        "credentials": {"apiKey": CANARY}, "enabled": True, "setAsSiteEmailProvider": True,
    })  # fmt: skip
    assert created.status_code == 201, created.text
    integration = created.json()
    assert integration["config"]["apiKeyFingerprint"] == "re_CANA...****"  # 28 characters: a quarter is 7
    assert integration["isSiteEmailProvider"] and integration["credentialsConfigured"]
    assert member("POST", "/api/integrations", json={"name": "x", "type": "WEBHOOK"}).status_code == 403
    assert admin("POST", "/api/integrations", json={"name": "x", "type": "NOPE"}).status_code == 400
    assert member("GET", f"/api/integrations/{integration['id']}").status_code == 403
    assert stranger("GET", f"/api/integrations/{integration['id']}").status_code == 404
    assert stranger("PATCH", f"/api/integrations/{integration['id']}", json={"name": "x"}).status_code == 404
    assert owner("GET", f"/api/integrations/{integration['id']}/").status_code == 200  # trailing slash
    second = admin("POST", "/api/integrations", json={
        "name": "Marketing", "type": "EMAIL_PROVIDER_ALT", "config": {"fromEmail": "hi@example.com"},
        "credentials": {"apiKey": "SG.blackbox_key_123456"}, "setAsSiteEmailProvider": True,
    }).json()  # fmt: skip
    listed = member("GET", "/api/integrations").json()
    assert [i["id"] for i in listed] == [second["id"], integration["id"]]  # newest first
    assert [i["isSiteEmailProvider"] for i in listed] == [True, False]  # the flag moved
    assert member("GET", "/api/integrations/stats").json() == {
        "total": 2, "enabled": 2, "disabled": 0, "byType": {"EMAIL_PROVIDER": 1, "EMAIL_PROVIDER_ALT": 1}
    }  # fmt: skip

    # Templates from the fake providers.
    assert member("GET", "/api/integrations/email-provider-a/templates").json()["templates"][0]["name"] == "Welcome Email"
    assert member("GET", "/api/integrations/email-provider-b/templates").json()["templates"][0]["id"].startswith("d-")
    assert stranger("GET", "/api/integrations/email-provider-a/templates").status_code == 409

    # Tables: init is idempotent, one Email Log per active email integration, 13 columns.
    init = admin("POST", "/api/tables/integration/init").json()
    assert init["success"] and len(init["tables"]) == 2
    assert admin("POST", "/api/tables/integration/init").json() == init
    assert member("POST", "/api/tables/integration/init").status_code == 403
    table_a = next(t for t in member("GET", "/api/tables?systemType=EMAIL_LOG").json() if t["integrationId"] == integration["id"])
    assert len(member("GET", f"/api/tables/{table_a['id']}").json()["columns"]) == 13

    # Send through a named integration, and a failure that still logs a row.
    sent = member("POST", "/api/emails", json={"to": "client@example.com", "subject": "Welcome", "text": "Hi", "integrationId": integration["id"]})
    assert sent.status_code == 201, sent.text
    assert sent.json()["values"]["Status"] == "delivered"
    owner("PATCH", f"/api/integrations/{integration['id']}", json={"credentials": {"apiKey": "re_reject_this_key_000"}})
    refused = member("POST", "/api/emails", json={"to": "client@example.com", "subject": "Again", "text": "Hi", "integrationId": integration["id"]})
    assert refused.status_code == 502 and refused.json()["row"]["values"]["Status"] == "failed"
    assert member("POST", "/api/emails", json={"to": "nope", "subject": "x", "text": "y"}).status_code == 400

    # Rows: newest first, filters, search, CSV, tenancy.
    rows = member("GET", f"/api/tables/{table_a['id']}/rows").json()
    assert [r["values"]["Subject"] for r in rows["results"]] == ["Again", "Welcome"]
    assert [r["values"]["Status"] for r in member("GET", f"/api/tables/{table_a['id']}/rows?status=failed").json()["results"]] == ["failed"]
    assert len(member("GET", f"/api/tables/{table_a['id']}/rows?q=welc").json()["results"]) == 1
    csv_text = member("GET", f"/api/tables/{table_a['id']}/rows.csv").text
    assert csv_text.splitlines()[0].startswith("Sent At,To,From,Subject,Status") and len(csv_text.splitlines()) == 3
    assert stranger("GET", f"/api/tables/{table_a['id']}/rows").status_code == 404

    # Delete keeps the log.
    assert admin("DELETE", f"/api/integrations/{integration['id']}").status_code == 204
    assert len(member("GET", f"/api/tables/{table_a['id']}/rows").json()["results"]) == 2

    # No canary anywhere a client can reach.
    everything = "".join(
        member("GET", path).text
        for path in ("/api/integrations", "/api/integrations/stats", f"/api/tables/{table_a['id']}/rows", f"/api/tables/{table_a['id']}/rows.csv")
    ) + sent.text + refused.text + created.text
    assert CANARY not in everything


@pytest.mark.slow
def test_pages_are_served_in_production(server):
    import re

    base, browser = server["base"], requests.Session()
    login_page = browser.get(f"{base}/login/", timeout=30)
    stylesheet = re.search(r'href="(/static/css/opbox\.[0-9a-f]+\.css)"', login_page.text)
    logged_in = browser.post(
        f"{base}/login/",
        data={"username": "member@acme.example", "password": "a long test password", "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"{base}/login/"},
        timeout=30,
    )
    css = requests.get(base + stylesheet.group(1), timeout=30)

    assert login_page.status_code == 200 and stylesheet, login_page.text[:500]
    assert logged_in.status_code == 200 and logged_in.url == f"{base}/tables/"
    assert "member@acme.example" in logged_in.text and "Acme Legal" in logged_in.text
    assert css.status_code == 200 and "immutable" in css.headers["Cache-Control"]
    assert browser.get(f"{base}/settings/integrations/", timeout=30).status_code == 200
