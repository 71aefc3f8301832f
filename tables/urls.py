from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^api/tables/?$", views.TableListView.as_view(), name="table-list"),
    re_path(r"^api/tables/(?P<table_id>[^/]+)/rows\.csv/?$", views.TableRowsCsvView.as_view(), name="table-rows-csv"),
    re_path(r"^api/tables/(?P<table_id>[^/]+)/rows/?$", views.TableRowsView.as_view(), name="table-rows"),
    re_path(r"^api/tables/(?P<table_id>[^/]+)/?$", views.TableDetailView.as_view(), name="table-detail"),
]
