from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^api/deliveries/(?P<delivery_id>[^/]+)/redeliver/?$", views.RedeliverView.as_view(), name="delivery-redeliver"),
]
