"""Cursor pages of the suppression list, shared by the API and the Settings page."""

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class SuppressionPages(CursorPagination):
    """Newest first, like the rows list. A cursor or page size that is not one is a 400 (DRF would answer
    404 to the cursor and ignore the size)."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "pageSize"
    max_page_size = 200

    def get_page_size(self, request):
        size = request.query_params.get(self.page_size_query_param)
        if size is None:
            return self.page_size
        try:
            return max(1, min(int(size), self.max_page_size))
        except ValueError:
            raise ValidationError({"pageSize": ["A whole number (1-200)."]}) from None

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": ["Invalid cursor."]}) from None
