"""The API's JSON parser: DRF's, with one more refusal."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DRFJSONParser


class JSONParser(DRFJSONParser):
    """DRF's JSON parser, plus JSON nested too deep for Python's parser: a 400 like any other malformed body
    (DRF catches ValueError only, so the RecursionError answered 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
