"""The Delivery Log's row page (any member) and its Redeliver button (owners and admins)."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from opbox.errors import ApplicationError
from tables.models import SystemType, Table
from tables.registry import source_for
from tables.services import table_in
from workspaces.pages import WorkspacePageMixin

from . import services
from .attempts import link_for
from .models import Delivery


class DeliveryPageMixin(WorkspacePageMixin):
    def delivery(self, table_id, row_id):
        try:
            table = table_in(self.workspace, table_id)
            if table.system_type != SystemType.DELIVERY_LOG:
                raise Table.DoesNotExist
            return table, services.delivery_in(self.workspace, row_id, table=table)
        except (Table.DoesNotExist, Delivery.DoesNotExist):
            raise Http404("No such delivery in this workspace.") from None


class DeliveryPage(DeliveryPageMixin, TemplateView):
    """One delivery: its values, why it failed, a link to what the event is about, and Redeliver for admins."""

    template_name = "deliveries/delivery.html"

    def get_context_data(self, table_id, row_id, **kwargs):
        table, delivery = self.delivery(table_id, row_id)
        data = delivery.event.data if isinstance(delivery.event.data, dict) else {}
        about = link_for(delivery.event_type, data)
        return super().get_context_data(
            table=table, delivery=delivery,
            cells=[(column, getattr(delivery, column.field)) for column in table.columns.all()],
            failure=source_for(table.system_type).failure_of(delivery),
            about_url=_path_of(about),
            **kwargs,
        )  # fmt: skip


def _path_of(url: str) -> str:
    """The site-relative path of one of our absolute links (the page links within the site it is on)."""
    return url.removeprefix(settings.OPBOX_BASE_URL) if url else ""


class RedeliverPage(DeliveryPageMixin, View):
    admin_only = True

    def post(self, request, table_id, row_id):
        table, delivery = self.delivery(table_id, row_id)
        try:
            services.redeliver(delivery)
        except ApplicationError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, "Redelivery queued, under the same webhook-id.")
        return HttpResponseRedirect(reverse("deliveries:delivery", args=[table.pk, delivery.pk]))
