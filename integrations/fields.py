"""EncryptedJSONField: a JSON object stored sealed (see crypto), bound to its row and field.

Reading the attribute decrypts lazily, so loading a row (a list page, say) never decrypts; saving a row
whose value was not read writes the stored ciphertext back untouched.
"""

import json

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from .crypto import key_ring, sealed_key_id


class Sealed(str):
    """A ciphertext as stored in the column: a `str`, so Django saves and compares it as text."""

    __slots__ = ()

    @property
    def key_id(self) -> str:
        return sealed_key_id(self)

    def __repr__(self):
        return f"<Sealed key_id={self.key_id}>"


class _EncryptedJSONDescriptor(DeferredAttribute):
    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = super().__get__(instance, owner)  # loads a deferred column
        if isinstance(value, Sealed):
            value = json.loads(key_ring().decrypt(value, self.field.associated_data(instance)))
            instance.__dict__[self.field.attname] = value
        return value

    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = value


class EncryptedJSONField(models.TextField):
    """A dict of secrets, encrypted at rest with the row's primary key as associated data.

    The primary key must be known before the first save (PublicIdField assigns it on creation).
    """

    descriptor_class = _EncryptedJSONDescriptor

    def associated_data(self, instance) -> bytes:
        if instance.pk in (None, ""):
            raise ValueError("An encrypted value needs its row's primary key before it is sealed.")
        return f"{instance._meta.label_lower}:{instance.pk}:{self.name}".encode()

    def from_db_value(self, value, expression, connection):
        return None if value is None else Sealed(value)

    def pre_save(self, model_instance, add):
        value = model_instance.__dict__.get(self.attname)
        if value is None or isinstance(value, Sealed):
            return value
        plaintext = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
        # The instance keeps the plaintext it was given; only the column receives the ciphertext.
        return Sealed(key_ring().encrypt(plaintext, self.associated_data(model_instance)))

    def reseal(self, instance, sealed: Sealed) -> Sealed:
        """`sealed` (a value of this field on `instance`'s row) sealed again under the current primary key."""
        associated_data = self.associated_data(instance)
        return Sealed(key_ring().encrypt(key_ring().decrypt(sealed, associated_data), associated_data))

    def get_prep_value(self, value):
        if value is not None and not isinstance(value, str):
            raise TypeError("Encrypted fields cannot be used in lookups.")
        return value

    def value_to_string(self, obj):
        # Serialisation (dumpdata) writes the ciphertext, never the plaintext.
        value = obj.__dict__.get(self.attname)
        return value if isinstance(value, Sealed) or value is None else "<unsaved encrypted value>"

    def formfield(self, **kwargs):
        return None  # never edited as raw text; forms offer write-only inputs per credential
