"""gunicorn's logger with email addresses masked in the access log (gunicorn.conf.py names it as `logger_class`)."""

from gunicorn.glogging import Logger

from .logging import mask_addresses


class AddressMaskingLogger(Logger):
    """Every value the access log format may print (path, query, request line, referer, headers) is masked with
    `opbox.logging.mask_addresses`: `DELETE /api/suppressions/ada@example.com` is logged as `.../[address]`."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {name: mask_addresses(value) if isinstance(value, str) else value for name, value in atoms.items()}
