"""Key lifecycle on a populated PostgreSQL database while requests keep reading and writing credentials:
add a new key first, re-encrypt, drop the old key, and lose nothing."""

import threading
import time

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connections

from integrations import services
from integrations.models import Integration
from integrations.types import fingerprint_for
from workspaces.models import Role

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROWS = 400
PATCHING_THREADS = 4


def fresh_key() -> str:
    return Fernet.generate_key().decode()


def test_rotation_keeps_every_credential_patched_while_it_runs(make_integration, api_as, settings):
    """The lost update of issue 10: rotation must never write back a secret a concurrent PATCH replaced."""
    old_key, new_key = fresh_key(), fresh_key()
    settings.OPBOX_ENCRYPTION_KEYS = [old_key]
    integrations = [
        make_integration("EMAIL_PROVIDER", name=f"Mail {i}", credentials={"apiKey": f"re_original_{i:04d}_key"})
        for i in range(ROWS)
    ]
    last_committed = {i.pk: f"re_original_{n:04d}_key" for n, i in enumerate(integrations)}
    clients = [api_as(Role.ADMIN) for _ in range(PATCHING_THREADS)]
    settings.OPBOX_ENCRYPTION_KEYS = [new_key, old_key]  # step 1: new key first, old kept for reading

    rotation = {}
    patched_at: list[float] = []
    errors, stop = [], threading.Event()

    def patch_api_keys(worker: int):
        # Each thread owns every PATCHING_THREADS-th row, so it knows the last value committed for its rows.
        own = integrations[worker::PATCHING_THREADS]
        n = 0
        try:
            while not stop.is_set():
                target = own[(n * 37) % len(own)]
                value = f"re_patched_{worker}_{n:05d}_key"
                response = clients[worker].patch(
                    f"/api/integrations/{target.pk}", {"credentials": {"apiKey": value}}, format="json"
                )
                if response.status_code != 200:
                    errors.append((response.status_code, response.content[:200]))
                    return
                last_committed[target.pk] = value
                patched_at.append(time.monotonic())
                n += 1
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=patch_api_keys, args=(w,)) for w in range(PATCHING_THREADS)]
    for thread in threads:
        thread.start()
    while len(patched_at) < 20:  # traffic is flowing before rotation starts
        time.sleep(0.01)
    rotation["start"] = time.monotonic()
    call_command("rotate_encryption_keys", batch_size=100)  # step 2: re-encrypt under the new key
    rotation["end"] = time.monotonic()
    time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join()

    assert errors == []
    during = [t for t in patched_at if rotation["start"] <= t <= rotation["end"]]
    assert len(during) >= 50, f"only {len(during)} PATCHes overlapped the rotation: the test did not test the race"

    settings.OPBOX_ENCRYPTION_KEYS = [new_key]  # step 3: drop the old key
    lost = []
    for integration in Integration.objects.all():
        expected = last_committed[integration.pk]
        if integration.credentials != {"apiKey": expected}:
            lost.append(integration.pk)
        assert integration.credential_fingerprints == {"apiKey": fingerprint_for(expected)}
    assert lost == [], f"{len(lost)} of {ROWS} rows lost the apiKey PATCHed during rotation"


def test_rotation_under_read_traffic_loses_nothing(workspace, make_integration, settings):
    old_key = fresh_key()
    settings.OPBOX_ENCRYPTION_KEYS = [old_key]
    integrations = [make_integration("WEBHOOK", credentials={"secret": f"shared-secret-{i:04d}-value"}) for i in range(60)]
    expected = {i.pk: i.credentials for i in integrations}

    new_key = fresh_key()
    settings.OPBOX_ENCRYPTION_KEYS = [new_key, old_key]
    errors, stop = [], threading.Event()

    def traffic(worker):
        try:
            n = 0
            while not stop.is_set():
                target = integrations[(worker * 7 + n) % len(integrations)]
                stored = Integration.objects.get(pk=target.pk)
                assert stored.credentials == expected[target.pk]  # decrypts under either key
                if n % 5 == 0:
                    services.update_integration(stored, name=f"renamed {worker}-{n}")
                n += 1
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=traffic, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    call_command("rotate_encryption_keys")
    stop.set()
    for thread in threads:
        thread.join()

    settings.OPBOX_ENCRYPTION_KEYS = [new_key]
    assert errors == []
    for integration in Integration.objects.all():
        assert integration.credentials == expected[integration.pk]
