"""Request parsers every site uses (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"])."""

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, made safe for hostile bodies: deeply nested JSON exhausts the decoder's recursion
    limit (a RecursionError, which DRF does not catch: a 500), and DRF's own error echoes the decoder's
    message. Both become the same generic 400."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except (ParseError, RecursionError) as e:
            raise ParseError("Malformed JSON.", code="parse_error") from e
