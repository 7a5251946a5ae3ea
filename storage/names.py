"""Validation of object-store names and user metadata, shared by the proxy and object servers.

Every name a user gives (account, container, object) and every piece of user
metadata passes through here before it reaches a disk, a ring lookup or a log
line.  The rules, and why:

* **Valid UTF-8, not empty, bounded length in bytes** (account and container
  <= :data:`MAX_ACCOUNT_BYTES` / :data:`MAX_CONTAINER_BYTES`, object <=
  :data:`MAX_OBJECT_BYTES`): lengths are counted in encoded bytes because that
  is what is hashed, stored and sent.
* **No control characters** (C0 ``U+0000-U+001F``, ``DEL``, C1 ``U+0080-U+009F``):
  NUL truncates C strings, newlines forge log lines and break line-based
  listings, and none of them has a use in a name.
* **No ``.`` or ``..`` path segment** in any name: a name must mean the same
  thing to every consumer, including any that later maps names to paths or URLs
  and would normalise ``a/../b`` to ``b``.  (The object server never builds a
  path from a name - it hashes it - so this guards the consumers we do not own.)
* **Account and container names contain no ``/``**: the path
  ``/account/container/object`` must split back into its parts unambiguously.

Metadata: at most :data:`MAX_METADATA_KEYS` keys; keys are 1-128 bytes of
letters, digits, ``-``, ``_`` and ``.`` (they may become HTTP headers);
values are UTF-8 without control characters, <= :data:`MAX_METADATA_VALUE_BYTES`;
keys and values together <= :data:`MAX_METADATA_TOTAL_BYTES`.

Every refusal is :class:`cumulo.errors.InvalidArgument` naming the field and the limit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from cumulo import errors

MAX_ACCOUNT_BYTES = 256
MAX_CONTAINER_BYTES = 256
MAX_OBJECT_BYTES = 1024
MAX_CONTENT_TYPE_BYTES = 256

MAX_METADATA_KEYS = 90
MAX_METADATA_KEY_BYTES = 128
MAX_METADATA_VALUE_BYTES = 256
MAX_METADATA_TOTAL_BYTES = 4096

# C0 controls, DEL and C1 controls.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_METADATA_KEY = re.compile(r"^[A-Za-z0-9_.\-]+$")


def _encoded(value: str | bytes, field: str) -> tuple[str, bytes]:
    """Return ``value`` as text and as UTF-8 bytes, refusing what is not valid UTF-8."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8"), value
        except UnicodeDecodeError:
            raise errors.InvalidArgument(
                f"{field} is not valid UTF-8", field=field, reason="INVALID_NAME"
            ) from None
    try:
        return value, value.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates: representable in a Python str, not in UTF-8.
        raise errors.InvalidArgument(
            f"{field} is not valid UTF-8", field=field, reason="INVALID_NAME"
        ) from None


def _check_text(text: str, field: str, what: str) -> None:
    match = _CONTROL.search(text)
    if match:
        raise errors.InvalidArgument(
            f"{field} contains the control character U+{ord(match.group()):04X} "
            f"at position {match.start()}",
            field=field,
            reason="INVALID_NAME",
            hint=f"{what} may not contain NUL, newlines or other control characters",
        )


def _check_name(value: str | bytes, field: str, limit: int, *, slash_allowed: bool) -> str:
    text, raw = _encoded(value, field)
    if not raw:
        raise errors.InvalidArgument(
            f"{field} is empty", field=field, reason="INVALID_NAME", hint="give a name"
        )
    if len(raw) > limit:
        raise errors.InvalidArgument(
            f"{field} is {len(raw)} bytes long; the limit is {limit} bytes (UTF-8)",
            field=field,
            reason="NAME_TOO_LONG",
        )
    _check_text(text, field, "names")
    if not slash_allowed and "/" in text:
        raise errors.InvalidArgument(
            f"{field} {text!r} contains '/'",
            field=field,
            reason="INVALID_NAME",
            hint="only object names may contain '/'",
        )
    if any(segment in (".", "..") for segment in text.split("/")):
        raise errors.InvalidArgument(
            f"{field} {text!r} has a '.' or '..' path segment",
            field=field,
            reason="INVALID_NAME",
            hint="names may contain dots, but no segment between slashes may be '.' or '..'",
        )
    return text


def validate_account(name: str | bytes, field: str = "account") -> str:
    """Return ``name`` as text if it is an acceptable account name, else raise."""
    return _check_name(name, field, MAX_ACCOUNT_BYTES, slash_allowed=False)


def validate_container(name: str | bytes, field: str = "container") -> str:
    """Return ``name`` as text if it is an acceptable container name, else raise."""
    return _check_name(name, field, MAX_CONTAINER_BYTES, slash_allowed=False)


def validate_object(name: str | bytes, field: str = "object") -> str:
    """Return ``name`` as text if it is an acceptable object name, else raise."""
    return _check_name(name, field, MAX_OBJECT_BYTES, slash_allowed=True)


def validate_path(
    account: str | bytes, container: str | bytes, obj: str | bytes
) -> tuple[str, str, str]:
    """Validate all three parts of an object's name; return them as text."""
    return validate_account(account), validate_container(container), validate_object(obj)


def object_path(account: str, container: str, obj: str) -> str:
    """The canonical ``/account/container/object`` path that names an object everywhere."""
    return f"/{account}/{container}/{obj}"


def validate_content_type(value: str, field: str = "content_type") -> str:
    """Return the content type (may be empty) if it is short and printable, else raise."""
    text, raw = _encoded(value, field)
    if len(raw) > MAX_CONTENT_TYPE_BYTES:
        raise errors.InvalidArgument(
            f"{field} is {len(raw)} bytes long; the limit is {MAX_CONTENT_TYPE_BYTES} bytes",
            field=field,
            reason="VALUE_TOO_LONG",
        )
    _check_text(text, field, "a content type")
    return text


def validate_metadata(metadata: Mapping[str, str], field: str = "metadata") -> dict[str, str]:
    """Return a copy of ``metadata`` if it is within every limit, else raise."""
    if len(metadata) > MAX_METADATA_KEYS:
        raise errors.InvalidArgument(
            f"{field} has {len(metadata)} keys; the limit is {MAX_METADATA_KEYS}",
            field=field,
            reason="METADATA_TOO_LARGE",
        )
    total = 0
    result: dict[str, str] = {}
    for key, value in metadata.items():
        key_text, key_raw = _encoded(key, f"{field} key")
        if not key_raw or len(key_raw) > MAX_METADATA_KEY_BYTES:
            raise errors.InvalidArgument(
                f"{field} key {key_text[:40]!r} is {len(key_raw)} bytes; keys must be "
                f"1-{MAX_METADATA_KEY_BYTES} bytes",
                field=f"{field}[{key_text[:40]}]",
                reason="METADATA_TOO_LARGE" if key_raw else "INVALID_METADATA",
            )
        if not _METADATA_KEY.match(key_text):
            raise errors.InvalidArgument(
                f"{field} key {key_text!r} has characters other than letters, digits, "
                "'-', '_' and '.'",
                field=f"{field}[{key_text}]",
                reason="INVALID_METADATA",
            )
        item_field = f"{field}[{key_text}]"
        value_text, value_raw = _encoded(value, item_field)
        if len(value_raw) > MAX_METADATA_VALUE_BYTES:
            raise errors.InvalidArgument(
                f"{item_field} is {len(value_raw)} bytes; the limit is "
                f"{MAX_METADATA_VALUE_BYTES} bytes per value",
                field=item_field,
                reason="METADATA_TOO_LARGE",
            )
        _check_text(value_text, item_field, "metadata values")
        total += len(key_raw) + len(value_raw)
        result[key_text] = value_text
    if total > MAX_METADATA_TOTAL_BYTES:
        raise errors.InvalidArgument(
            f"{field} is {total} bytes in all (keys plus values); the limit is "
            f"{MAX_METADATA_TOTAL_BYTES} bytes",
            field=field,
            reason="METADATA_TOO_LARGE",
        )
    return result
