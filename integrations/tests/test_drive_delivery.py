"""CLOUD_STORAGE's delivery (SPEC §15): a generated document uploaded into the root folder with Drive's multipart
upload, carrying `appProperties.opboxDocumentId`; a 401 refreshes the token once and uploads once; a retry after
a crash (the first upload reached Drive, its answer was lost) finds the earlier upload and uploads nothing."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from integrations.oauth import StoredTokens
from integrations.providers import connector_for
from integrations.providers.events import OutgoingEvent

from . import services as svc

pytestmark = pytest.mark.django_db

UPLOAD = f"{svc.DRIVE}/upload/drive/v3/files"
LIST = f"{svc.DRIVE}/drive/v3/files"


@dataclass
class Document:
    filename: str = "Engagement letter.pdf"
    content_type: str = "application/pdf"

    def read(self) -> bytes:
        return b"%PDF-1.4 the letter"


def deliver(integration, attempt=1):
    client = connector_for(integration.type).client(
        integration.config, integration.credentials, identity={"id": integration.pk, "name": integration.name, "type": integration.type},
        tokens=StoredTokens(integration),
    )  # fmt: skip
    event = OutgoingEvent("cdelivery", "document.generated", datetime.now(UTC), {"id": "cdoc0000000000000000000001"}, "", Document(), attempt)
    return client.deliver([event])


def uploaded(call):
    """(metadata, bytes) of a multipart/related upload."""
    boundary = call.request.headers["Content-Type"].split("boundary=")[1]
    parts = call.request.body.split(f"--{boundary}".encode())
    metadata = json.loads(parts[1].split(b"\r\n\r\n", 1)[1].strip())
    return metadata, parts[2].split(b"\r\n\r\n", 1)[1].rstrip(b"\r\n")


def test_a_document_is_uploaded_into_the_root_folder_with_its_opbox_id(drive, mock):
    mock.add("POST", UPLOAD, json={"id": "1FileId"})
    assert deliver(drive) == "200"
    (call,) = mock.calls
    assert "uploadType=multipart" in call.request.url and "supportsAllDrives=true" in call.request.url
    metadata, content = uploaded(call)
    assert metadata == {"name": "Engagement letter.pdf", "parents": ["1AbcFolder"], "appProperties": {"opboxDocumentId": "cdoc0000000000000000000001"}}
    assert content == b"%PDF-1.4 the letter"
    assert call.request.headers["Authorization"] == f"Bearer {svc.KEYS['drive_access']}"


def test_a_401_refreshes_the_token_once_and_uploads_once(drive, mock):
    mock.add("POST", UPLOAD, status=401, json={"error": {"code": 401, "message": "Invalid Credentials", "errors": [{"reason": "authError"}]}})
    mock.add("POST", svc.TOKEN_URL, json=svc.token_answer(access="ya29.FRESH"))
    mock.add("POST", UPLOAD, json={"id": "1FileId"})
    assert deliver(drive) == "200"
    assert [call.request.url.split("?")[0] for call in mock.calls] == [UPLOAD, svc.TOKEN_URL, UPLOAD]
    assert mock.calls[2].request.headers["Authorization"] == "Bearer ya29.FRESH"


def test_a_retry_after_a_crash_finds_the_earlier_upload_instead_of_uploading_again(drive, mock):
    mock.add("GET", LIST, json={"files": [{"id": "1EarlierUpload", "name": "Engagement letter.pdf"}]})
    assert deliver(drive, attempt=2) == "found 1EarlierUpload"
    (call,) = mock.calls
    query = parse_qs(urlsplit(call.request.url).query)
    assert query["q"] == ["appProperties has { key='opboxDocumentId' and value='cdoc0000000000000000000001' } and trashed = false"]
    assert query["supportsAllDrives"] == ["true"]


def test_a_retry_that_finds_nothing_uploads(drive, mock):
    mock.add("GET", LIST, json={"files": []})
    mock.add("POST", UPLOAD, json={"id": "1FileId"})
    assert deliver(drive, attempt=3) == "200"
