"""Any application error is answered with the status and text it carries, whichever app raised it."""

import logging

from opbox.api import exception_handler
from opbox.errors import ApplicationError


class TeapotError(ApplicationError):
    http_status = 418


class UpstreamError(ApplicationError):
    http_status = 502

    @property
    def detail(self):
        return f"{self} Try again later."


def answer(error):
    response = exception_handler(error, {})
    return response.status_code, response.data


def test_an_application_error_is_answered_with_its_own_status_and_detail():
    assert answer(TeapotError("I am a teapot.")) == (418, {"detail": "I am a teapot."})
    assert answer(UpstreamError("The upstream failed.")) == (502, {"detail": "The upstream failed. Try again later."})


def test_only_server_side_failures_are_logged(caplog):
    caplog.set_level(logging.WARNING, logger="opbox.api")

    answer(TeapotError("I am a teapot."))
    answer(UpstreamError("The upstream failed."))

    assert [record.getMessage() for record in caplog.records] == ["UpstreamError: The upstream failed. Try again later."]
