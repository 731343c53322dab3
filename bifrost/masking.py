"""Replace secret values with ``***`` in log lines, results and variables (DESIGN §9)."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "MIN_SECRET_LENGTH", "SecretMasker"]

MASK = "***"
#: Shorter values are ignored: masking "abc" everywhere would destroy logs and reveal
#: nothing useful about a secret that short anyway.
MIN_SECRET_LENGTH = 4
#: Lines of a multi-line secret (PEM keys, JSON credentials) shorter than this are not
#: registered on their own, to avoid masking "-----END" or "}" everywhere.
_MIN_LINE_LENGTH = 8


def _variants(value: str) -> set[str]:
    """The forms a secret commonly takes on its way into a log line."""
    forms = {value, value.strip()}
    forms.add(quote(value))  # as in a URL path
    forms.add(quote(value, safe=""))  # as a query value
    forms.add(quote_plus(value))  # form-encoded
    raw = value.encode("utf-8", "surrogatepass")
    forms.add(base64.b64encode(raw).decode("ascii"))
    forms.add(base64.urlsafe_b64encode(raw).decode("ascii"))
    forms.add(json.dumps(value)[1:-1])  # inside a JSON string (ASCII-escaped)
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    forms.add(repr(value)[1:-1])  # inside the repr of a dict/list printed by the workflow
    if "\n" in value:
        forms.update(line.strip() for line in value.splitlines() if len(line.strip()) >= _MIN_LINE_LENGTH)
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def _trie_pattern(values: Iterable[str]) -> str:
    """A regex matching any of ``values``, longest first, built as a prefix tree.

    A flat ``a|b|c`` alternation tries every secret at every position; the tree form
    branches once per character, so the cost hardly grows with the number of secrets.
    """
    trie: dict[str, Any] = {}
    for value in values:
        node = trie
        for char in value:
            node = node.setdefault(char, {})
        node[""] = True

    def build(node: dict[str, Any]) -> str:
        # Collapse single-child chains into one literal run to keep nesting shallow.
        parts: list[str] = []
        for char in sorted(k for k in node if k):
            child, run = node[char], char
            while len(child) == 1 and "" not in child:
                (nxt,) = child
                run += nxt
                child = child[nxt]
            rest = build(child) if any(k for k in child) else ""
            parts.append(re.escape(run) + rest)
        if not parts:
            return ""
        body = parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"
        if "" in node:  # a secret ends here: the longer continuation is optional (greedy)
            return "(?:" + body + ")?"
        return body

    return build(trie)


class SecretMasker:
    """Collects an execution's secret values and masks them.

    ``mask`` replaces every occurrence (leftmost-longest) with ``***``; where two secrets
    overlap, the whole overlapping stretch is masked. The regex is rebuilt lazily after
    ``register``; with no secrets ``mask`` returns its input untouched. Thread-safe.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._regex: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        for value in values:
            self.register(value)

    def __len__(self) -> int:
        return len(self._values)

    def __bool__(self) -> bool:
        return bool(self._values)

    def register(self, value: Any) -> None:
        """Register a secret (and its URL-quoted, base64, JSON- and repr-escaped forms)."""
        if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
            return
        new = _variants(value) - self._values
        if new:
            with self._lock:
                self._values |= new
                self._regex = None

    def _pattern(self) -> re.Pattern[str]:
        regex = self._regex
        if regex is None:
            with self._lock:
                regex = self._regex
                if regex is None:
                    values = sorted(self._values, key=len, reverse=True)
                    try:
                        regex = re.compile(_trie_pattern(values))
                    except (re.error, RecursionError, OverflowError):
                        # Pathological sets (e.g. hundreds of nested prefixes): flat is fine.
                        regex = re.compile("|".join(map(re.escape, values)))
                    self._regex = regex
        return regex

    def mask(self, text: str) -> str:
        """``text`` with every registered value replaced by ``***``."""
        if not self._values or not text:
            return text
        regex = self._pattern()
        match = regex.search(text)
        if match is None:
            return text
        out: list[str] = []
        last = 0
        while match is not None:
            start, end = match.span()
            # Secrets that start inside this match may run past its end (overlapping
            # secrets): extend over them. The first match starting at or after ``end`` is
            # the next one to mask.
            following = regex.search(text, start + 1)
            while following is not None and following.start() < end:
                end = max(end, following.end())
                following = regex.search(text, following.start() + 1)
            out.append(text[last:start])
            out.append(MASK)
            last = end
            match = following
        out.append(text[last:])
        return "".join(out)

    def mask_data(self, obj: Any) -> Any:
        """Mask every string (dict keys included) inside dicts, lists and tuples."""
        if not self._values:
            return obj
        return self._mask_data(obj, set())

    def _mask_data(self, obj: Any, seen: set[int]) -> Any:
        if isinstance(obj, str):
            return self.mask(obj)
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in seen:
                return "<cycle>"
            seen.add(id(obj))
            try:
                if isinstance(obj, dict):
                    return {self._mask_data(k, seen): self._mask_data(v, seen) for k, v in obj.items()}
                items = [self._mask_data(item, seen) for item in obj]
                return items if isinstance(obj, list) else tuple(items)
            finally:
                seen.discard(id(obj))
        return obj
