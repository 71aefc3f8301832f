"""The outbound-URL guard (SPEC §13): URLs users type never reach private networks. Refused at write time (every
private range, literally named), at connect time after DNS resolution (a name that resolves to a private address),
never through a redirect; OUTBOUND_ALLOW_PRIVATE_NETWORKS lifts both. The operator's own service URLs are not guarded.

Traffic stays on loopback: the "private" server listens on the loopback alias 127.0.0.2, names are made to resolve
to it by patching the resolver, and redirects are answered by `responses`.
"""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import responses

from integrations.models import Integration
from integrations.services import create_integration

from . import services as svc

pytestmark = pytest.mark.django_db

PRIVATE_HOSTS = [
    "10.0.0.1", "10.255.255.254", "172.16.5.4", "172.31.255.1", "192.168.1.1", "127.0.0.1", "127.8.9.10", "localhost",
    "api.localhost", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1",
    "255.255.255.255", "198.18.0.1", "192.0.0.8", "[::1]", "[fc00::1]", "[fd12:3456::1]", "[fe80::1]", "[ff02::1]",
    "[::ffff:10.0.0.1]", "[::ffff:127.0.0.1]", "[64:ff9b::a00:1]", "[2002:a00:1::1]", "[::]",
]  # fmt: skip
OUTBOUND_FIELDS = [
    ("WEBHOOK", "url", "http"), ("DOCUMENT_ENGINE", "baseUrl", "http"), ("EXTERNAL_DATABASE", "baseUrl", "https"),
    ("WEBHOOK_PLATFORM", "webhookUrl", "http"), ("SLACK", "webhookUrl", "https"),
]  # fmt: skip


@pytest.mark.parametrize("host", PRIVATE_HOSTS)
def test_every_private_range_is_refused_at_write_naming_the_host(host, admin_api):
    response = admin_api.post("/api/integrations", {
        "name": "Hook", "type": "WEBHOOK", "config": {"url": f"http://{host}:8080/hook"}, "credentials": {"secret": "s3cret"},
    }, format="json")  # fmt: skip

    assert response.status_code == 400, response.content
    (problem,) = response.json()["config"]
    assert host.strip("[]") in problem and "private networks" in problem
    assert not Integration.objects.exists()


@pytest.mark.parametrize("type_name, field, scheme", OUTBOUND_FIELDS)
def test_every_outbound_field_is_guarded_on_create_and_patch(type_name, field, scheme, admin_api):
    url = f"{scheme}://192.168.0.10/path"
    created = admin_api.post("/api/integrations", {"name": "x", "type": type_name, "config": {field: url}}, format="json")
    integration = create_integration(admin_api_workspace(admin_api), name="x", type=type_name)

    patched = admin_api.patch(f"/api/integrations/{integration.pk}", {"config": {field: url}}, format="json")

    assert created.status_code == 400 and patched.status_code == 400
    assert field not in Integration.objects.get(pk=integration.pk).config


def admin_api_workspace(api):
    from workspaces.models import Workspace

    return Workspace.objects.get(slug="acme")


@pytest.mark.parametrize("url", ["https://hooks.example.com/in", "https://93.184.216.34/in", "https://[2606:4700::1111]/in"])
def test_public_hosts_are_accepted(url, admin_api):
    response = admin_api.post("/api/integrations", {"name": "Hook", "type": "WEBHOOK", "config": {"url": url}}, format="json")

    assert response.status_code == 201


class _Recorder(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self._answer()

    def do_POST(self):
        self._answer()

    def _answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append(self.path)
        body = json.dumps({"portalId": 12345678} if "account-info" in self.path else {"received": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def private_server():
    """An HTTP server on the loopback alias 127.0.0.2, standing in for a machine on a private network."""
    server = ThreadingHTTPServer(("127.0.0.2", 0), _Recorder)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def rebinding_name(monkeypatch, private_server):
    """A public-looking name that the resolver answers with the private server's address (DNS rebinding)."""
    name = "rebind.opbox-test.example"
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host == name:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return f"{name}:{private_server.server_address[1]}"


def test_a_name_resolving_to_a_private_address_is_refused_at_connect_time(admin_api, workspace, rebinding_name, private_server):
    # The name is not an address, so the write accepts it; the connection is what the guard refuses.
    integration = create_integration(workspace, name="Hook", type="WEBHOOK", config={"url": f"http://{rebinding_name}/hook"},
                                     credentials={"secret": "s3cret"})  # fmt: skip

    response = admin_api.post(f"/api/integrations/{integration.pk}/check")

    assert response.status_code == 502
    detail = response.json()["detail"]
    assert "rebind.opbox-test.example" in detail and "private networks" in detail
    assert "127.0.0.2" not in detail  # which private address a name has is ours to keep
    assert private_server.seen == []  # nothing reached it


def test_a_redirect_is_never_followed(admin_api, workspace):
    integration = create_integration(workspace, name="Hook", type="WEBHOOK", config={"url": svc.WEBHOOK}, credentials={"secret": "s3cret"})
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, svc.WEBHOOK, status=307, headers={"Location": "http://10.0.0.5/internal/admin"})

        response = admin_api.post(f"/api/integrations/{integration.pk}/check")

        assert len(mock.calls) == 1  # the private address was never asked
    assert response.status_code == 502 and "redirect (HTTP 307), which is never followed" in response.json()["detail"]


def test_the_setting_lifts_the_write_check_and_the_connect_check(admin_api, settings, rebinding_name, private_server):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    port = private_server.server_address[1]
    literal = admin_api.post("/api/integrations", {
        "name": "Literal", "type": "WEBHOOK", "config": {"url": f"http://127.0.0.2:{port}/literal"}, "credentials": {"secret": "s3cret"},
    }, format="json").json()  # fmt: skip
    named = admin_api.post("/api/integrations", {
        "name": "Named", "type": "WEBHOOK", "config": {"url": f"http://{rebinding_name}/named"}, "credentials": {"secret": "s3cret"},
    }, format="json").json()  # fmt: skip

    assert admin_api.post(f"/api/integrations/{literal['id']}/check").status_code == 200
    assert admin_api.post(f"/api/integrations/{named['id']}/check").status_code == 200
    assert private_server.seen == ["/literal", "/named"]


def test_the_operators_service_urls_are_not_guarded(admin_api, workspace, settings, private_server):
    settings.HUBSPOT_API_URL = f"http://127.0.0.2:{private_server.server_address[1]}"
    integration = create_integration(workspace, name="CRM", type="CRM_PLATFORM", config={"portalId": "12345678"},
                                     credentials={"accessToken": "pat-na1-test"})  # fmt: skip

    response = admin_api.post(f"/api/integrations/{integration.pk}/check")

    assert response.status_code == 200 and private_server.seen == ["/account-info/v3/details"]
