"""The URL conf's routes, for the matrix tests that must cover every one of them."""

from django.urls import URLPattern, URLResolver, get_resolver


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
