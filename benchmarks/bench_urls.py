"""The app's URLs plus the benchmarks' reference views, all returning the same constant JSON body:

- `/bench/bare`: a plain Django view. It runs through the same middleware as the API, so an endpoint's
  ratio to it is what the endpoint's own work (DRF, authentication, queries, serialisation) costs.
- `/bench/drf`: a DRF view with no authentication: what DRF's request/response machinery alone costs.
- `/bench/drf-auth`: a DRF view with the API's default authentication (Bearer token) and IsWorkspaceMember:
  what every API endpoint pays before its own work.
"""

from django.http import JsonResponse
from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from opbox.urls import handler404  # noqa: F401  (the app's JSON 404 for /api/ paths)

BARE_BODY = {"status": "ok", "service": "opbox-integrations"}


def bare(request):
    return JsonResponse(BARE_BODY)


class DrfConstant(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response(BARE_BODY)


class DrfAuthenticatedConstant(APIView):
    def get(self, request):  # the REST_FRAMEWORK defaults: token authentication, IsWorkspaceMember
        return Response(BARE_BODY)


urlpatterns = [
    path("bench/bare", bare, name="bench-bare"),
    path("bench/drf", DrfConstant.as_view(), name="bench-drf"),
    path("bench/drf-auth", DrfAuthenticatedConstant.as_view(), name="bench-drf-auth"),
    path("", include("opbox.urls")),
]
