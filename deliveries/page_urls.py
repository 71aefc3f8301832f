from django.urls import path

from . import pages

app_name = "deliveries"

urlpatterns = [
    path("tables/<str:table_id>/deliveries/<str:row_id>/", pages.DeliveryPage.as_view(), name="delivery"),
    path("tables/<str:table_id>/deliveries/<str:row_id>/redeliver/", pages.RedeliverPage.as_view(), name="redeliver"),
]
