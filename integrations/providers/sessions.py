"""The one session factory every service client uses: a keep-alive `requests` session per thread, guarded or not.

A *guarded* session calls URLs that users typed (a webhook, a document engine's or Airtable's base URL): it is a
`requests-hardened` session, which resolves the host, refuses any address that is not public (the DNS answer is
checked, so a name that resolves to a private address is refused however it is spelt), then connects to the
address it checked, and never follows a redirect. Unguarded sessions call the operator's configured service
URLs (the email providers, Slack, HubSpot, Google). OUTBOUND_ALLOW_PRIVATE_NETWORKS makes every session unguarded.

Why requests-hardened and not an adapter of our own: it pins the connection to the address it checked (a check
followed by a second lookup at connect time would let DNS rebinding through), keeps TLS certificate and SNI
checks on the original host name, and is maintained by Saleor, who send their own webhooks with it.
"""

import threading
from http.cookiejar import DefaultCookiePolicy

import requests
from requests_hardened import Config, HTTPSession

from ..outbound import private_networks_allowed

_threads = threading.local()


def _unguarded() -> requests.Session:
    return requests.Session()


def _guarded() -> requests.Session:
    config = Config(
        ip_filter_enable=True,
        ip_filter_allow_loopback_ips=False,
        never_redirect=True,
        default_timeout=None,  # every call passes its own
    )
    return HTTPSession(config)


def session_for(guarded: bool) -> requests.Session:
    """This thread's keep-alive session of that kind, shared by every client the thread makes.

    Safe to share between credentials: clients pass auth with each request, and no cookie is ever kept.
    """
    guarded = guarded and not private_networks_allowed()
    name = "guarded" if guarded else "plain"
    session = getattr(_threads, name, None)
    if session is None:
        session = _guarded() if guarded else _unguarded()
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        setattr(_threads, name, session)
    return session
