import pytest

from email_logs.models import SuppressionReason
from email_logs.suppressions import record_suppressions
from email_logs.tests.factories import add_rows
from tables.models import Table


@pytest.fixture
def objects(make_integration, other_workspace):
    """Ids of an email integration (and so of its Email Log table) in the workspace and in another one.

    The workspace also has a provider-B integration, so both template routes answer 200.
    """
    own = make_integration("EMAIL_PROVIDER", set_as_site_email_provider=True)
    make_integration("EMAIL_PROVIDER_ALT")
    other = make_integration("EMAIL_PROVIDER", in_workspace=other_workspace, set_as_site_email_provider=True)
    ids = {}
    for whose, integration in (("own", own), ("other", other)):
        table = Table.objects.get(integration=integration)
        (email,) = add_rows(table, 1)
        # An email row (its page is keyed by table and row) and a suppressed address, distinct per workspace.
        address = f"{whose}-bounced@example.com"
        record_suppressions(table.workspace_id, [(address, SuppressionReason.BOUNCED, email.pk)])
        ids[whose] = {"integration": integration.pk, "table": table.pk, "email": email.pk, "row": email.pk, "suppression": address}
    return ids
