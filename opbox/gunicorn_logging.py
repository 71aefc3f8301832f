"""gunicorn's logger with email addresses masked in the access log (gunicorn.conf.py names it as `logger_class`)."""

import functools
import re

from gunicorn.glogging import Logger

from .logging import mask_addresses

_ATOM = re.compile(r"%\(([^)]*)\)")


class AddressMaskingLogger(Logger):
    """Every value the access log format prints (path, query, request line, referer, headers) is masked with
    `opbox.logging.mask_addresses`: `DELETE /api/suppressions/ada@example.com` is logged as `.../[address]`.

    Only the atoms the format names are kept, masked: gunicorn builds dozens (every request and response
    header), and masking them all cost more than the rest of the log line."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        named = _named_atoms(self.cfg.access_log_format)
        return {name: mask_addresses(value) if isinstance(value, str) else value for name, value in atoms.items() if name in named}


@functools.cache
def _named_atoms(access_log_format: str) -> frozenset[str]:
    # Header atoms are stored lower-cased; gunicorn's SafeAtoms lower-cases them on lookup too.
    return frozenset(name.lower() if name.startswith("{") else name for name in _ATOM.findall(access_log_format))
