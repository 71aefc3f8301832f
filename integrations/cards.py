"""Facts that apps above this one add to the integrations' settings cards (the deliveries app: the last
delivery and how many are failing). Registered in their `ready()`, so this app imports none of them."""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class CardFact:
    label: str
    text: str
    url: str = ""  # a page the fact links to ("" for none)
    warning: bool = False


_providers: list[Callable[[list], dict[str, list[CardFact]]]] = []


def register_card_facts(provider: Callable[[list], dict[str, list[CardFact]]]) -> None:
    """`provider(integrations)` answers {integration id: [CardFact, ...]} for the cards of a settings page."""
    if provider not in _providers:
        _providers.append(provider)


def card_facts(integrations: list) -> dict[str, list[CardFact]]:
    facts: dict[str, list[CardFact]] = {}
    for provider in _providers:
        for integration_id, found in provider(integrations).items():
            facts.setdefault(integration_id, []).extend(found)
    return facts
