"""SLACK: the Slack Web API at SLACK_API_URL with a bot token, or an incoming webhook (config `webhookUrl`).

Web API answers are HTTP 200 `{"ok": true, ...}`; a refusal is also a 200, `{"ok": false, "error": "<code>"}`
(`invalid_auth`, `channel_not_found`, `missing_scope` with `needed`...), which this client raises like any error.
The scopes a token holds come back in the `X-OAuth-Scopes` answer header. An incoming webhook answers 200 `ok`,
or a 4xx whose plain-text body is the reason (`invalid_token`, `no_service`, `channel_is_archived`).
"""

from .client import CheckResult, ServiceClient
from .events import sentence
from .exceptions import (
    MissingSetting,
    ProviderAuthError,
    ProviderRateLimited,
    ProviderResourceError,
)

POST_WITHOUT_JOINING = "chat:write.public"


class SlackWebhookPoster(ServiceClient):
    """Posts a message to an incoming webhook (a URL a user typed, so guarded). The URL is its own credential."""

    provider_name = "Slack's incoming webhook"
    guarded = True
    authenticates = False
    credential_name = "webhookUrl"

    def _error_class(self, status, code):
        if status == 429:
            return ProviderRateLimited
        # A revoked, removed or archived webhook: the URL no longer leads to a channel.
        return ProviderResourceError if 400 <= status < 500 else super()._error_class(status, code)

    def _error_details(self, payload, response):
        return "", ""  # the plain-text body is the reason

    def post(self, text: str):
        return self._request("POST", "", json={"text": text}, idempotent=False)


class SlackClient(ServiceClient):
    provider_name = "Slack"
    credential_name = "botToken"
    credential_label = "bot token"
    success_flag = "ok"
    error_codes = {
        "invalid_auth": ProviderAuthError,
        "not_authed": ProviderAuthError,
        "account_inactive": ProviderAuthError,
        "token_revoked": ProviderAuthError,
        "token_expired": ProviderAuthError,
        "missing_scope": ProviderAuthError,
        "ratelimited": ProviderRateLimited,
        "channel_not_found": ProviderResourceError,
        "not_in_channel": ProviderResourceError,
        "is_archived": ProviderResourceError,
    }
    default_events = ("email.failed", "email.complained", "integration.check_failed", "integration.reconnect_needed")
    check_proves = (
        "With a bot token: Slack accepts it (auth.test), finds the channel, and the bot may post there (it is a member, "
        "or the channel is public and the token has chat:write.public). Without one: the incoming webhook takes a test message."
    )

    def __init__(self, *args, channel: str = "", webhook: SlackWebhookPoster | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel = channel.strip()
        self.webhook = webhook

    @classmethod
    def from_values(cls, config, credentials, *, service_url, timeout, identity, unsaved=False, tokens=None):
        webhook = None
        if config.get("webhookUrl"):
            webhook = SlackWebhookPoster(base_url=config["webhookUrl"], timeout=timeout, unsaved=unsaved)
        if not credentials.get("botToken") and webhook is None:
            raise MissingSetting(f"The Slack integration {identity['name']!r} has neither a botToken nor a webhookUrl: add one.")
        return cls(credentials.get("botToken") or "", base_url=service_url, timeout=timeout, unsaved=unsaved,
                   channel=config.get("channel") or "", webhook=webhook)  # fmt: skip

    @classmethod
    def posts_when_checked(cls, config, credential_names) -> bool:
        return "botToken" not in credential_names  # then the check posts to the incoming webhook

    def _error_details(self, payload, response):
        if not isinstance(payload, dict) or not payload.get("error"):
            return "", ""
        needed = f"needs the {payload['needed']} scope" if payload.get("needed") else ""
        return str(payload["error"]), needed

    def deliver(self, events) -> str:
        """One message: a sentence and the link. `chat.postMessage` with the bot token, else the incoming webhook."""
        (event,) = events
        text = sentence(event)
        if not self._credential.value:
            return str(self.webhook.post(text).status_code)
        if not self.channel:
            raise MissingSetting("The Slack integration has a bot token but no channel to post in: set its channel (C...).")
        self._request("POST", "/chat.postMessage", json={"channel": self.channel, "text": text}, idempotent=False)
        return "ok"

    def check(self) -> CheckResult:
        if not self._credential.value:
            self.webhook.post("Opbox connection check: Opbox notifications will arrive in this channel.")
            return CheckResult("Slack's incoming webhook accepted a test message: notifications will arrive in its channel.")
        identity = self._json(self._request("POST", "/auth.test", idempotent=True))
        bot = f"@{identity.get('user') or identity.get('user_id') or 'the bot'}"
        if not self.channel:
            team = identity.get("team") or "its"
            return CheckResult(f"The bot token works as {bot} in the {team} workspace; set a channel (its ID, C...) to post there.")
        try:
            answer = self._request("GET", "/conversations.info", params={"channel": self.channel})
        except ProviderResourceError:
            raise self._resource_error(
                f"Slack finds no channel {self.channel!r} that {bot} can see: use the channel's ID (C0123...), "
                "shown at the bottom of its details in Slack."
            ) from None
        channel = self._json(answer).get("channel")
        if not isinstance(channel, dict):
            raise self._bad_response("conversations.info without a channel")
        name = f"#{channel.get('name') or self.channel}"
        scopes = {scope.strip() for scope in answer.headers.get("X-OAuth-Scopes", "").split(",")}
        if channel.get("is_archived"):
            raise self._resource_error(f"{name} is archived: choose another channel.")
        if channel.get("is_member") is True:
            return CheckResult(f"Posting as {bot} in {name}.")
        if channel.get("is_private") is False and POST_WITHOUT_JOINING in scopes:
            return CheckResult(f"Posting as {bot} in {name} (a public channel: {POST_WITHOUT_JOINING} lets it post without joining).")
        raise self._resource_error(f"{bot} is not a member of {name}: invite the bot to the channel (/invite {bot}).")
