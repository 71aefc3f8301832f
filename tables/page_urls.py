from django.urls import path

from . import pages

app_name = "tables"

urlpatterns = [
    path("tables/", pages.TablesPage.as_view(), name="index"),
    path("tables/<str:table_id>/", pages.TablePage.as_view(), name="table"),
]
