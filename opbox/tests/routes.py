"""The URL conf's routes, for the matrix tests that must cover every one of them."""

from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

# Ids no object has, shaped to break a careless view: too many digits for a float, a slash (a second path
# segment), a dot-dot, longer than any column, a quote, non-ASCII, a percent sign, blanks.
HOSTILE_IDS = ["9" * 400, "-1e400", "a/b", "..", "x" * 5000, "' OR '1'='1", "ü\u200b", "%", " ", "a@b/c@example.com"]


def routes(patterns=None, prefix="", namespace=""):
    """(name with its namespaces, or None when unnamed; path pattern) of every route outside Django admin."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        path = prefix + str(pattern.pattern).lstrip("^")
        if isinstance(pattern, URLResolver):
            if pattern.namespace != "admin":
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from routes(pattern.url_patterns, path, inner)
        elif isinstance(pattern, URLPattern):
            yield (namespace + pattern.name if pattern.name else None), path


def row_counts() -> dict[str, int]:
    """The number of rows of every model: a request that changed nothing leaves them as they were."""
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}
