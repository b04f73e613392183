"""A pointer's JSON is parsed exactly as json.loads parses it, without importing json."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procs import run_as_user
from wheelcache._pointers.parsing import loads

_json_ish = st.text(alphabet='{}[]",:0123456789.eE+-tfnrul NaIy\\x', max_size=30).map(str.encode)
_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _outcome(parse: object, data: bytes) -> str:
    try:
        return repr(parse(data))  # type: ignore[operator]
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


@settings(max_examples=300, deadline=None)
@given(_values, st.sampled_from(["", " ", "\n", "\t \r\n"]), st.booleans())
def test_a_document_parses_as_json_loads_parses_it(value: object, pad: str, ascii: bool) -> None:
    data = (pad + json.dumps(value, ensure_ascii=ascii) + pad).encode("utf-8", "surrogatepass")

    assert _outcome(loads, data) == _outcome(json.loads, data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40) | _json_ish)
def test_any_bytes_give_json_loads_result_or_exception(data: bytes) -> None:
    assert _outcome(loads, data) == _outcome(json.loads, data)


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1} x',
        b"",
        b"[1e400, -Infinity, NaN]",
        b'"\\ud800"',
        b"\xef\xbb\xbf{}",
        b"[" * 100_000,
        b"\x0c1",  # whitespace to str.strip(), not to JSON
        b"1\x0b",
    ],
)
def test_the_odd_cases_parse_as_json_loads_parses_them(data: bytes) -> None:
    assert _outcome(loads, data) == _outcome(json.loads, data)


def test_parsing_a_pointer_imports_neither_json_nor_re() -> None:
    code = (
        "import sys\nfrom wheelcache._pointers.parsing import loads\n"
        "assert loads(b' {\"k\": [1, 2.5, \"x\"]}\\n') == {'k': [1, 2.5, 'x']}\n"
        "print(sorted({'json', 're'} & set(sys.modules)))"
    )
    assert run_as_user(code).strip() == "[]"
