"""DRF's parsers (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]), where a body is decoded only by the parser.

JSON and form-encoded bodies are checked for every view by bifrost_site.input_guard before the view runs;
a multipart body is decoded only when a view reads it, so its fields and file names are checked here.
"""

from rest_framework import parsers

from bifrost_site.input_guard import Refused, check_fields


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing a NUL or a lone surrogate in a field or a file name with a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        try:
            check_fields(parsed.data, parsed.files)
        except Refused as refused:
            raise refused.as_validation_error() from None
        return parsed
