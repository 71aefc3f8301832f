"""OAuth 2 for CLOUD_STORAGE (SPEC §13): a refresh before expiry and once after a 401; exactly one refresh call
however many processes find the token expired; rotated refresh tokens kept; `invalid_grant` -> reconnect, and no
further refresh; a refresh that fails halfway loses nothing."""

import threading
import time
from datetime import timedelta

import pytest
import requests
import responses
from django.db import connection
from django.utils import timezone

from integrations import oauth
from integrations.models import Integration
from integrations.services import update_integration
from integrations.types import fingerprint_for
from workspaces.models import WorkspaceEvent

from . import services as svc

DRIVE_FILE = f"{svc.DRIVE}/drive/v3/files/1AbcFolder"


def expire(integration, seconds_from_now):
    Integration.objects.filter(pk=integration.pk).update(token_expires_at=timezone.now() + timedelta(seconds=seconds_from_now))


def stored(integration):
    integration = Integration.objects.get(pk=integration.pk)
    return integration.credentials, integration


def token_calls(mock):
    return [call for call in mock.calls if call.request.url == svc.TOKEN_URL]


def check(api, integration):
    return api.post(f"/api/integrations/{integration.pk}/check")


@pytest.mark.django_db
def test_a_token_expiring_within_five_minutes_is_refreshed_first(admin_api, drive, mock):
    expire(drive, 4 * 60)
    mock.add(responses.POST, svc.TOKEN_URL, json=svc.token_answer(access="ya29.NEW"))
    svc.drive_file(mock)

    response = check(admin_api, drive)

    assert response.status_code == 200
    assert svc.form(mock.calls[0].request) == {"grant_type": "refresh_token", "refresh_token": svc.KEYS["drive_refresh"],
                                               "client_id": "test-client-id", "client_secret": "test-client-secret-CANARY"}  # fmt: skip
    assert mock.calls[0].request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert mock.calls[1].request.headers["Authorization"] == "Bearer ya29.NEW"
    credentials, integration = stored(drive)
    assert credentials == {"accessToken": "ya29.NEW", "refreshToken": svc.KEYS["drive_refresh"]}  # not rotated: kept
    assert timedelta(seconds=3500) < integration.token_expires_at - timezone.now() <= timedelta(seconds=3599)
    assert integration.credential_fingerprints["accessToken"] == fingerprint_for("ya29.NEW")


@pytest.mark.django_db
def test_a_token_with_time_left_or_of_unknown_expiry_is_used_as_it_is(admin_api, drive, mock):
    svc.drive_file(mock)
    svc.drive_file(mock)

    assert check(admin_api, drive).status_code == 200  # expiry unknown until the first refresh
    expire(drive, 10 * 60)
    assert check(admin_api, drive).status_code == 200

    assert not token_calls(mock)


@pytest.mark.django_db
def test_a_401_refreshes_once_and_retries_once(admin_api, drive, mock):
    svc.drive_file(mock, status=401)
    mock.add(responses.POST, svc.TOKEN_URL, json=svc.token_answer(access="ya29.RETRIED"))
    svc.drive_file(mock)

    response = check(admin_api, drive)

    assert response.status_code == 200
    assert [call.request.headers.get("Authorization") for call in mock.calls if call.request.url.startswith(DRIVE_FILE)] == [
        f"Bearer {svc.KEYS['drive_access']}", "Bearer ya29.RETRIED",
    ]  # fmt: skip


@pytest.mark.django_db
def test_a_second_401_is_a_failure_not_another_refresh(admin_api, drive, mock):
    svc.drive_file(mock, status=401)
    mock.add(responses.POST, svc.TOKEN_URL, json=svc.token_answer(access="ya29.ALSO-REFUSED"))
    svc.drive_file(mock, status=401)

    response = check(admin_api, drive)

    assert response.status_code == 502 and "access token was rejected by Google Drive" in response.json()["detail"]
    assert len(token_calls(mock)) == 1 and len(mock.calls) == 3


@pytest.mark.django_db
def test_a_rotated_refresh_token_replaces_the_stored_one(admin_api, drive, mock):
    expire(drive, -60)
    mock.add(responses.POST, svc.TOKEN_URL, json=svc.token_answer(access="ya29.A2", refresh="1//ROTATED-2"))
    svc.drive_file(mock)

    assert check(admin_api, drive).status_code == 200

    assert stored(drive)[0] == {"accessToken": "ya29.A2", "refreshToken": "1//ROTATED-2"}


@pytest.mark.django_db
def test_invalid_grant_means_reconnect_and_no_further_refresh_until_the_credentials_change(admin_api, drive, mock):
    expire(drive, -60)
    mock.add(responses.POST, svc.TOKEN_URL, status=400, json=svc.INVALID_GRANT)

    first = check(admin_api, drive)
    second = check(admin_api, drive)

    assert first.status_code == second.status_code == 502
    assert "reconnect" in first.json()["detail"].lower() and "reconnect" in second.json()["detail"].lower()
    assert len(token_calls(mock)) == 1  # the second check made no call at all
    credentials, integration = stored(drive)
    assert integration.reconnect_needed and integration.last_check_ok is False
    assert credentials == svc.VALUES["CLOUD_STORAGE"][1]  # nothing was lost or overwritten
    (event,) = WorkspaceEvent.objects.all()
    assert event.type == "integration.reconnect_needed"
    assert event.data == {"id": drive.pk, "name": "Drive", "type": "CLOUD_STORAGE", "lastCheckDetail": oauth.RECONNECT_DETAIL}
    assert admin_api.get(f"/api/integrations/{drive.pk}").json()["lastCheckDetail"] == second.json()["detail"]

    update_integration(integration, credentials_patch={"refreshToken": "1//FROM-A-NEW-CONSENT"})
    expire(drive, -60)
    mock.add(responses.POST, svc.TOKEN_URL, json=svc.token_answer(access="ya29.BACK"))
    svc.drive_file(mock)

    assert check(admin_api, drive).status_code == 200
    assert svc.form(token_calls(mock)[-1].request)["refresh_token"] == "1//FROM-A-NEW-CONSENT"


@pytest.mark.django_db
@pytest.mark.parametrize("failure", [requests.ReadTimeout("token endpoint silent"), requests.ConnectionError("reset")])
def test_a_refresh_that_fails_halfway_loses_nothing(failure, admin_api, drive, mock):
    expire(drive, -60)
    before_credentials, before = stored(drive)
    mock.add(responses.POST, svc.TOKEN_URL, body=failure)

    response = check(admin_api, drive)

    assert response.status_code in (502, 504)
    credentials, after = stored(drive)
    assert credentials == before_credentials and after.credential_fingerprints == before.credential_fingerprints
    assert after.token_expires_at == before.token_expires_at and not after.reconnect_needed
    mock.add(responses.POST, svc.TOKEN_URL, json=svc.token_answer(access="ya29.LATER"))
    svc.drive_file(mock)
    assert check(admin_api, drive).status_code == 200  # the stored refresh token still works


@pytest.mark.django_db
def test_missing_oauth_client_settings_are_a_failure_naming_them(admin_api, drive, mock, settings):
    settings.GOOGLE_OAUTH_CLIENT_SECRET = ""
    expire(drive, -60)

    response = check(admin_api, drive)

    assert response.status_code == 503
    assert "GOOGLE_OAUTH_CLIENT_ID and GOOGLE_OAUTH_CLIENT_SECRET" in response.json()["detail"]
    assert not mock.calls and Integration.objects.get(pk=drive.pk).last_check_ok is False


@pytest.mark.django_db
def test_no_token_ever_appears_in_a_detail(admin_api, drive, mock):
    expire(drive, -60)
    echo = f"refresh token {svc.KEYS['drive_refresh']} for client test-client-secret-CANARY is revoked"
    mock.add(responses.POST, svc.TOKEN_URL, status=400, json={"error": "invalid_grant", "error_description": echo})

    response = check(admin_api, drive)

    text = response.content.decode() + Integration.objects.get(pk=drive.pk).last_check_detail
    assert svc.KEYS["drive_refresh"] not in text and "test-client-secret-CANARY" not in text


class RotatingTokenEndpoint:
    """A token endpoint that rotates refresh tokens: each refresh spends the token it was given (a later use of a
    spent one is `invalid_grant`, as Box does) and answers a new pair. Slow, so that concurrent callers overlap."""

    def __init__(self, first_refresh_token):
        self.valid, self.calls, self.lock = first_refresh_token, 0, threading.Lock()

    def __call__(self, request):
        given = svc.form(request)["refresh_token"]
        with self.lock:
            self.calls += 1
            if given != self.valid:
                return 400, {}, '{"error": "invalid_grant", "error_description": "Token has been expired or revoked."}'
            self.valid = f"1//ROTATED-{self.calls}"
            answer = svc.token_answer(access=f"ya29.ACCESS-{self.calls}", refresh=self.valid)
        time.sleep(0.3)
        import json

        return 200, {}, json.dumps(answer)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_processes_finding_an_expired_token_make_one_refresh_call(drive, mock):
    endpoint = RotatingTokenEndpoint(svc.KEYS["drive_refresh"])
    mock.add_callback(responses.POST, svc.TOKEN_URL, callback=endpoint)
    expire(drive, -60)
    start, tokens, errors = threading.Barrier(20), [], []

    def worker():
        try:
            integration = Integration.objects.get(pk=drive.pk)  # each thread: its own connection, its own read
            start.wait()
            tokens.append(oauth.StoredTokens(integration).access_token())
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == [] and endpoint.calls == 1
    assert tokens == ["ya29.ACCESS-1"] * 20
    assert stored(drive)[0] == {"accessToken": "ya29.ACCESS-1", "refreshToken": "1//ROTATED-1"}

    # The rotated refresh token was kept: a later refresh still works.
    expire(drive, -60)
    assert oauth.StoredTokens(Integration.objects.get(pk=drive.pk)).access_token() == "ya29.ACCESS-2"
    assert endpoint.calls == 2 and stored(drive)[0]["refreshToken"] == "1//ROTATED-2"
