import pickle

import pytest

from dlt_vault_provider import Secret
from dlt_vault_provider.secret import MASK


def test_secret_hides_itself_everywhere_but_reveal():
    s = Secret("hunter2-value")
    assert "hunter2" not in repr(s)
    assert "hunter2" not in str(s)
    assert "hunter2" not in f"{s} {s!r} {s:>20}"
    assert "hunter2" not in "%s %r" % (s, s)  # noqa: UP031 - the old style must hide it too
    assert str(s) == MASK
    assert s.reveal() == "hunter2-value"


def test_secret_compares_by_value_and_survives_pickle():
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    again = pickle.loads(pickle.dumps(Secret("p")))
    assert again.reveal() == "p"
    assert Secret(Secret("x")).reveal() == "x"


def test_secret_is_immutable():
    s = Secret("x")
    with pytest.raises(AttributeError):
        s._value = "y"  # type: ignore[misc]
    assert s.reveal() == "x"
