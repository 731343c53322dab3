"""Refuse input that PostgreSQL or Python cannot take, before any view, serializer or query sees it.

Each of these reached the database or the recursion limit and failed there with a 500 (issue 18 #5):

- a NUL character (U+0000), in a value or a key: PostgreSQL stores no NUL in text or jsonb;
- a lone surrogate (U+D800 to U+DFFF without its pair, which JSON spells "\\ud800"): it has no UTF-8
  form, so it failed wherever it was written to the database, a log or a response;
- JSON nested more than MAX_DEPTH levels: the decoder, or the first recursive walk after it, raised
  RecursionError.

InputGuardMiddleware checks the path, the query string and every JSON or form-encoded body (any method,
any view: DRF's or Django's, whatever its parser classes), and answers a 400 in the project's error shape
whose `details` names what was refused: the query parameter, `path`, or the JSON path of the value
(`form_data.tags[2]`). Multipart bodies are checked by DRF's parser (bifrost_site/api/parsers.py); Django's
own forms refuse NUL in their fields. The depth is measured without recursion. docs/security.md ("How each
class of input is refused") lists where each class is stopped.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse, QueryDict
from rest_framework.exceptions import ValidationError

from bifrost_site.api.errors import error_body

MAX_DEPTH = 100  # objects and arrays inside one another; the parameter coercion allows 100 too

NUL_MESSAGE = "Null characters are not allowed."
SURROGATE_MESSAGE = "Unpaired surrogate characters are not allowed."
DEPTH_MESSAGE = f"The value is nested more than {MAX_DEPTH} levels deep."
BODY = "non_field_errors"  # the name used when the body itself (not one of its fields) is refused


class Refused(Exception):
    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name, self.message = name, message

    def as_validation_error(self) -> ValidationError:
        return ValidationError({self.name: [self.message]})


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored (a message), or None when it can."""
    if "\x00" in text:
        return NUL_MESSAGE
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE_MESSAGE
    return None


def printable(text: str) -> str:
    """`text` safe to echo in an error: a NUL and a lone surrogate spelled as JSON escapes."""
    return text.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")


def json_path(path: Iterable[str | int]) -> str:
    rendered = ""
    for part in path:
        if isinstance(part, int):
            rendered += f"[{part}]"
        else:
            rendered += f".{printable(part)}" if rendered else printable(part)
    return rendered or BODY


def check_value(data: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise Refused (naming the JSON path) for a NUL, a lone surrogate or nesting deeper than `max_depth`
    anywhere in `data`. Iterative: any depth is measured without recursion."""
    stack: list[tuple[Any, tuple, int]] = [(data, (), 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                raise Refused(json_path(path), problem)
            continue
        if isinstance(value, dict):
            items = list(value.items())
        elif isinstance(value, list | tuple):
            items = list(enumerate(value))
        else:
            continue
        if depth >= max_depth:
            raise Refused(json_path(path[:1]), DEPTH_MESSAGE)
        for key, item in reversed(items):  # reversed: the first offending value in document order is named
            if isinstance(key, str):
                problem = text_problem(key)
                if problem:
                    raise Refused(json_path((*path, key)), problem)
            stack.append((item, (*path, key), depth + 1))


def check_fields(fields, files=None) -> None:
    """The same for form fields (a QueryDict) and the names of uploaded files."""
    for key, values in fields.lists():
        for text in (key, *values):
            problem = text_problem(text) if isinstance(text, str) else None
            if problem:
                raise Refused(printable(key), problem)
    for key, uploaded in (files or {}).items():
        for text in (key, getattr(uploaded, "name", "") or ""):
            problem = text_problem(text)
            if problem:
                raise Refused(printable(key), problem)


def too_deep_field(text: str) -> str:
    """The top-level field of a JSON text in which nesting first passes MAX_DEPTH (BODY when it has none).

    Used only when the decoder gave up (RecursionError), to name the field; a plain scan, no recursion."""
    depth, index, key, in_string, escaped, start, last = 0, 0, None, False, False, 0, ""
    top_is_object = False
    for position, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string, last = False, text[start:position]
            continue
        if char == '"':
            in_string, start = True, position + 1
        elif char in "[{":
            depth += 1
            if depth == 1:
                top_is_object = char == "{"
            elif depth > MAX_DEPTH:
                break
        elif char in "]}":
            depth -= 1
        elif depth == 1 and char == ":":
            key = last
        elif depth == 1 and char == ",":
            index += 1
    else:
        return BODY
    if not top_is_object:
        return json_path([index])
    try:
        return json_path([json.loads(f'"{key}"')]) if key is not None else BODY
    except ValueError:
        return BODY


def check_json_body(raw: bytes, encoding: str) -> None:
    """Refuse a JSON body carrying a NUL, a lone surrogate or nesting deeper than MAX_DEPTH.

    In UTF-8 a NUL or a lone surrogate reaches a decoded string only through a \\u escape (a raw NUL is
    invalid JSON, an encoded surrogate invalid UTF-8), and nothing nests deeper than its brackets count:
    most bodies are let through after three scans of their bytes, without being decoded here. A body that
    is not JSON is left to the view (DRF answers 400 when it reads it)."""
    if codecs.lookup(encoding).name == "utf-8" and b"\\u" not in raw and raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return
    try:
        text = raw.decode(encoding)
        data = json.loads(text)
    except RecursionError:
        raise Refused(too_deep_field(text), DEPTH_MESSAGE) from None
    except ValueError:
        return
    check_value(data)


def _media_type(request) -> str:
    return (request.content_type or "").lower()


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.startswith("application/") and media_type.endswith("+json")


def check_request(request) -> None:
    """Raise Refused for the first part of the request that cannot be stored."""
    problem = text_problem(request.path_info)
    if problem:
        raise Refused("path", problem)
    query = request.META.get("QUERY_STRING", "")
    if "%00" in query or "\x00" in query:  # Django decodes the rest with errors="replace": only NUL remains
        check_fields(request.GET)
    media_type = _media_type(request)
    if not (_is_json(media_type) or media_type == "application/x-www-form-urlencoded"):
        return
    try:
        raw = request.body
    except RequestDataTooBig:
        return  # the view answers it as before
    if not raw:
        return
    encoding = request.encoding or settings.DEFAULT_CHARSET
    try:
        codecs.lookup(encoding)
    except LookupError:
        return  # the view answers an unknown charset as before
    if _is_json(media_type):
        check_json_body(raw, encoding)
    else:
        check_fields(QueryDict(raw, encoding=encoding))


class InputGuardMiddleware:
    """400 for a NUL, a lone surrogate or too deep nesting in the path, the query string or the body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            check_request(request)
        except Refused as refused:
            details = {refused.name: [refused.message]}
            return JsonResponse(error_body(400, f"Invalid input: {refused}", details), status=400)
        return self.get_response(request)
