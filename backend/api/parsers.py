"""Request body parsers for the API."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing bodies nested past what the interpreter can decode.

    Python's json module recurses once per level of nesting, so a body of a few thousand ``[``
    raises RecursionError, which DRF does not turn into a ParseError: the client got a 500 HTML
    page instead of the API's error shape. No API body nests more than a few levels.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc
