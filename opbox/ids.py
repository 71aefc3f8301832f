"""Public ids in the seed's style: `c` + 24 lowercase base-36 characters, time first so they sort by age."""

import secrets
import time

from django.db import models

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_TIME_WIDTH = 9  # milliseconds since 1970 in base 36 fit 9 characters until the year 5188
_RANDOM_WIDTH = 24 - _TIME_WIDTH  # 15 random base-36 characters: about 77 bits


def _base36(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 36)
        digits.append(_ALPHABET[remainder])
    return "".join(reversed(digits))


def new_public_id() -> str:
    """A new opaque id: creation time (ms) then random characters; never sequential."""
    random_part = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_WIDTH))
    return "c" + _base36(time.time_ns() // 1_000_000, _TIME_WIDTH) + random_part


class PublicIdField(models.CharField):
    """Primary key holding a `new_public_id()`, assigned when the object is built, before any save."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 25)
        kwargs.setdefault("primary_key", True)
        kwargs.setdefault("default", new_public_id)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)
