"""What every page shows about who is signed in and where."""

from django.utils.functional import SimpleLazyObject

from .services import memberships_of


def current_workspace(request):
    """`membership` (set by workspace pages) and, read only if a page shows the switcher, `memberships`."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "membership": getattr(request, "membership", None),
        "memberships": SimpleLazyObject(lambda: memberships_of(user)),
    }
