"""Signed one-time tokens (profiles.tokens): the hostile cases — expired, forged, wrong purpose,
reused — and the transactional single use."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from federation.db import utcnow
from profiles.tokens import TokenError, Tokens, UsedToken, prune_used

SECRET = "a-secret-key-of-the-node-0123456789"
DAY = timedelta(days=1)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def session(make_node):
    state = make_node().extensions["coopfed"]
    with state.session() as s:
        yield s


def reason(fn, *args, **kwargs) -> str:
    with pytest.raises(TokenError) as info:
        fn(*args, **kwargs)
    return info.value.reason


def test_roundtrip_and_expiry():
    clock = Clock()
    tokens = Tokens(SECRET, clock=clock)
    token = tokens.issue("password_reset", {"m": 7})
    assert tokens.read("password_reset", token, max_age=DAY) == {"m": 7}
    clock.now += DAY - timedelta(seconds=5)
    assert tokens.read("password_reset", token, max_age=DAY) == {"m": 7}
    clock.now += timedelta(seconds=10)
    assert reason(tokens.read, "password_reset", token, max_age=DAY) == "expired"
    # No max_age: never expires (unsubscribe links).
    assert tokens.read("password_reset", token, max_age=None) == {"m": 7}


def test_a_token_from_the_future_is_not_accepted():
    clock = Clock()
    tokens = Tokens(SECRET, clock=clock)
    clock.now += timedelta(hours=1)
    token = tokens.issue("invitation", {"m": 1})
    clock.now -= timedelta(hours=1)
    assert reason(tokens.read, "invitation", token, max_age=DAY) == "expired"


def test_forged_tokens_are_invalid():
    tokens = Tokens(SECRET)
    token = tokens.issue("invitation", {"m": 1})
    payload, ts, sig = token.split(".")
    # Another node's key, a changed payload, a cut signature, garbage, an empty string.
    other = Tokens("another-secret-key-of-another-node").issue("invitation", {"m": 1})
    evil = Tokens(SECRET).issue("invitation", {"m": 2}).split(".")[0]
    for forged in (other, f"{evil}.{ts}.{sig}", f"{payload}.{ts}.{sig[:-2]}", "x.y.z", "", "..."):
        assert reason(tokens.read, "invitation", forged, max_age=DAY) == "invalid", forged


def test_wrong_purpose_is_invalid():
    tokens = Tokens(SECRET)
    unsubscribe = tokens.issue("unsubscribe", {"m": 1, "k": "message"})
    assert reason(tokens.read, "password_reset", unsubscribe, max_age=None) == "invalid"
    assert reason(tokens.read, "invitation", unsubscribe, max_age=None) == "invalid"
    with pytest.raises(ValueError):
        tokens.issue("bad purpose!", {})


def test_single_use_token_is_spent_by_the_commit(session):
    tokens = Tokens(SECRET)
    token = tokens.issue("invitation", {"m": 1}, single_use=True)
    # Reading (the GET page) does not spend it.
    assert tokens.read("invitation", token, max_age=DAY) == {"m": 1}
    # A consume whose transaction rolls back leaves the token usable.
    assert tokens.consume(session, "invitation", token, max_age=DAY) == {"m": 1}
    session.rollback()
    assert tokens.consume(session, "invitation", token, max_age=DAY) == {"m": 1}
    session.commit()
    assert reason(tokens.consume, session, "invitation", token, max_age=DAY) == "used"
    session.rollback()
    # Another single-use token of the same data is a different token.
    again = tokens.issue("invitation", {"m": 1}, single_use=True)
    assert tokens.consume(session, "invitation", again, max_age=DAY) == {"m": 1}
    session.commit()


def test_consume_refuses_tokens_not_issued_as_single_use(session):
    tokens = Tokens(SECRET)
    reusable = tokens.issue("invitation", {"m": 1})
    assert reason(tokens.consume, session, "invitation", reusable, max_age=DAY) == "invalid"


def test_spent_nonces_are_pruned_after_expiry(session):
    clock = Clock()
    tokens = Tokens(SECRET, clock=clock)
    token = tokens.issue("password_reset", {"m": 3}, single_use=True)
    tokens.consume(session, "password_reset", token, max_age=timedelta(hours=1))
    session.commit()
    assert prune_used(session, clock.now) == 0
    assert prune_used(session, clock.now + timedelta(hours=2)) == 1
    session.commit()
    assert session.query(UsedToken).count() == 0
    # Pruned, the token is still refused: it has expired by then.
    clock.now += timedelta(hours=2)
    reused = reason(tokens.consume, session, "password_reset", token, max_age=timedelta(hours=1))
    assert reused == "expired"
