"""Key lifecycle on a populated PostgreSQL database while requests keep reading and writing credentials:
add a new key first, re-encrypt, drop the old key, and lose nothing."""

import threading

import pytest
from django.core.management import call_command
from django.db import connections

from integrations import services
from integrations.crypto import generate_key
from integrations.models import Integration

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_rotation_under_traffic_loses_nothing(workspace, make_integration, settings):
    old_key = generate_key()
    settings.OPBOX_ENCRYPTION_KEYS = [old_key]
    integrations = [make_integration("WEBHOOK", credentials={"secret": f"whsec_{i:04d}_value"}) for i in range(60)]
    expected = {i.pk: i.credentials for i in integrations}

    new_key = generate_key()
    settings.OPBOX_ENCRYPTION_KEYS = [new_key, old_key]  # step 1: new key first, old kept for reading
    errors, stop = [], threading.Event()

    def traffic(worker):
        try:
            n = 0
            while not stop.is_set():
                target = integrations[(worker * 7 + n) % len(integrations)]
                stored = Integration.objects.get(pk=target.pk)
                assert stored.credentials == expected[target.pk]  # decrypts under either key
                if n % 5 == 0:  # a concurrent write re-seals under the new key
                    services.update_integration(stored, name=f"renamed {worker}-{n}")
                n += 1
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=traffic, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    call_command("rotate_encryption_keys")  # step 2: re-encrypt everything under the new key
    stop.set()
    for thread in threads:
        thread.join()

    settings.OPBOX_ENCRYPTION_KEYS = [new_key]  # step 3: drop the old key
    assert errors == []
    assert Integration.objects.count() == len(integrations)
    for integration in Integration.objects.all():
        assert integration.credentials == expected[integration.pk]
