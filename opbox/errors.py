"""The base of every application error: the error names its own HTTP status, so the API handler and the
pages answer any domain error in one place without importing the app that raises it.
"""


class ApplicationError(Exception):
    """An error a user can act on. `detail` is the text shown to them; `http_status` is how the API answers.

    Named `http_status`, not `status_code`: a provider error's `status_code` is the provider's own answer.
    """

    http_status = 500

    @property
    def detail(self) -> str:
        return str(self)
