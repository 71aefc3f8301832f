"""Clients share one keep-alive session per thread, yet each call carries only its own key and no cookie."""

import threading

import responses

from integrations.providers import client_for

A = "https://provider-a.test"


def _templates(mock):
    mock.add(
        responses.GET, f"{A}/templates", json={"object": "list", "has_more": False, "data": []},
        headers={"Set-Cookie": "session=from-provider; Path=/"},
    )  # fmt: skip


def test_clients_in_one_thread_share_a_session_but_not_their_keys():
    first, second = client_for("EMAIL_PROVIDER", "re_first_key_0123456789"), client_for("EMAIL_PROVIDER", "re_second_key_0123456789")
    with responses.RequestsMock() as mock:
        _templates(mock)
        first.list_templates()
        second.list_templates()
        first.list_templates()
        calls = list(mock.calls)

    assert first._session is second._session
    assert [call.request.headers["Authorization"] for call in calls] == [
        "Bearer re_first_key_0123456789", "Bearer re_second_key_0123456789", "Bearer re_first_key_0123456789",
    ]  # fmt: skip
    assert all("Cookie" not in call.request.headers for call in calls)


def test_each_thread_has_its_own_session():
    sessions = []
    thread = threading.Thread(target=lambda: sessions.append(client_for("EMAIL_PROVIDER", "re_key_0123456789")._session))
    thread.start()
    thread.join()

    assert sessions[0] is not client_for("EMAIL_PROVIDER", "re_key_0123456789")._session

