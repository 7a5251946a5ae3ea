"""The error table: every domain error has a code, and codes map back to the class."""

from __future__ import annotations

import grpc

from cumulo import errors
from cumulo.rpc import status


def _all_error_classes() -> list[type[errors.CumuloError]]:
    return [
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type)
        and issubclass(cls, errors.CumuloError)
        and cls is not errors.CumuloError
    ]


def test_every_error_class_has_a_status_code() -> None:
    missing = [cls.__name__ for cls in _all_error_classes() if cls not in status.STATUS_OF]
    assert missing == []


def test_codes_map_back_to_the_same_class() -> None:
    for cls, code in status.STATUS_OF.items():
        assert status.ERROR_OF[code] is cls


def test_caller_mistakes_never_map_to_unknown_or_internal() -> None:
    for cls in _all_error_classes():
        if cls is errors.InternalError:
            continue
        assert status.code_for(cls("x")) not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)


def test_status_carries_the_detail() -> None:
    error = errors.InvalidArgument("bad name", field="name", hint="use letters")
    code, message, details = status.status_for(error, "req-1")
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message == "bad name (use letters)"
    detail = status._detail_from_trailers([(status.DETAILS_KEY, details)])
    assert detail is not None
    assert (detail.field, detail.hint, detail.request_id) == ("name", "use letters", "req-1")
