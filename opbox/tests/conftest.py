import pytest

from tables.models import Table


@pytest.fixture
def objects(make_integration, other_workspace):
    """Ids of an email integration (and so of its Email Log table) in the workspace and in another one."""
    own = make_integration("EMAIL_PROVIDER", set_as_site_email_provider=True)
    other = make_integration("EMAIL_PROVIDER", in_workspace=other_workspace, set_as_site_email_provider=True)
    return {
        "own": {"integration": own.pk, "table": Table.objects.get(integration=own).pk},
        "other": {"integration": other.pk, "table": Table.objects.get(integration=other).pk},
    }
