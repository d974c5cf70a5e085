"""A value that hides itself: the only way to see it is ``reveal()``.

``str()`` is masked too, because f-strings and ``%s`` call it; a secret must never
reach a log line or an exception by accident.
"""

from __future__ import annotations

import hmac
from typing import Any

MASK = "********"


class Secret:
    """An immutable secret string. ``repr``, ``str`` and ``format`` all print a mask."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"Secret holds a str, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The plain value. Call it only where the value leaves for its consumer."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, format_spec: str) -> str:
        return format(MASK, format_spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Secret is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickling (multiprocessing, Airflow's XCom) keeps the value but never prints it.
        return (Secret, (self._value,))


def reveal(value: Secret | str | None) -> str | None:
    """The plain value of a ``Secret``, a plain ``str`` unchanged, ``None`` unchanged."""
    return value.reveal() if isinstance(value, Secret) else value
