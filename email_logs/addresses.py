"""Finding an email address in free text (a subject, a provider's answer, an event's detail): what the
erasure scrubs and what an incoming event of an erased address is cleaned of."""

import re

ADDRESS_LIKE = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


def mention_of(address: str) -> re.Pattern:
    """The address on its own in a text, in any case, not inside a longer one (xada@example.com, ada@example.com.au)."""
    return re.compile(rf"(?<![\w.!#$%&'*+/=?^`{{|}}~-]){re.escape(address)}(?![\w-]|\.[\w-])", re.IGNORECASE)
