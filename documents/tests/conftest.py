"""Fixtures of the documents tests: a DOCUMENT_ENGINE integration, Carbone mocked in its documented shapes, and a
fresh storage folder per test."""

import io

import pytest
import responses

from integrations.services import create_integration

CARBONE = "https://carbone.acme.example"
CARBONE_KEY = "carbone_CANARY_key_docs_11aa22"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


@pytest.fixture(autouse=True)
def document_folder(tmp_path, settings):
    """Each test's documents in a folder of their own (Django resets its storages when STORAGES changes)."""
    folder = tmp_path / "documents"
    documents = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(folder)}}
    settings.STORAGES = {**settings.STORAGES, "documents": documents}
    return folder


@pytest.fixture
def engine(workspace):
    return create_integration(
        workspace, name="Carbone", type="DOCUMENT_ENGINE", config={"baseUrl": CARBONE}, credentials={"apiKey": CARBONE_KEY}
    )


def carbone_render(mock, template_id="tpl-letter", body=PDF, status=200, json=None, content_type="application/pdf"):
    """`POST /render/{templateId}?download=true` answering the file's bytes (or, with `json`, Carbone's refusal)."""
    url = f"{CARBONE}/render/{template_id}"
    if json is not None:
        return mock.add(responses.POST, url, status=status, json=json)
    return mock.add(responses.POST, url, status=status, body=body, content_type=content_type)


def carbone_page(mock, items, *, has_more=False, next_cursor=None, cursor=None):
    params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
    body = {"success": True, "data": items, "hasMore": has_more, "nextCursor": next_cursor}
    return mock.add(responses.GET, f"{CARBONE}/templates", json=body, match=[responses.matchers.query_param_matcher(params)])


def template(n):
    return {"id": f"tpl-{n}", "versionId": f"{n:064x}", "name": f"Template {n}", "createdAt": 1767949200 + n, "type": "docx",
            "size": 1000 + n, "category": "", "tags": []}  # fmt: skip


class _BreakingBody(io.RawIOBase):
    """A body that sends `sent`, then fails as a socket would: `error` is a TimeoutError (the service stalls)
    or a ConnectionResetError (it hangs up)."""

    def __init__(self, sent: bytes, error: OSError):
        self._sent, self._error = sent, error

    def readable(self):
        return True

    def readinto(self, buffer):
        if not self._sent:
            raise self._error
        size = min(len(buffer), len(self._sent))
        buffer[:size], self._sent = self._sent[:size], self._sent[size:]
        return size


def carbone_render_breaking(mock, error: OSError, sent: bytes = PDF[:100], template_id="tpl-letter"):
    """Carbone answers 200 and the file's first bytes, then the connection fails mid-body."""
    body = io.BufferedReader(_BreakingBody(sent, error))
    return mock.add(
        responses.POST, f"{CARBONE}/render/{template_id}", body=body, content_type="application/pdf",
        headers={"Content-Length": str(len(PDF))}, auto_calculate_content_length=False,
    )  # fmt: skip
