"""Production mode end to end: two nodes, not in dev mode, each behind nginx terminating TLS
on 127.x.y.z:443 with a certificate from the test's CA. Their IRIs are what the fediverse sees
(``https://a.coop.test/members/alice``, no port); WebFinger, partnership, a member profile and
a call federate both ways over https."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from node.cli.partners import partner
from profiles.models import Call, Member, Partnership

from ..conftest import add_call, add_member
from .conftest import Pki, TlsNode, pump

pytestmark = pytest.mark.slow


def cli(node: TlsNode, *args: str) -> str:
    result = CliRunner().invoke(partner, list(args), obj={"state": node.state})
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def partnership(node: TlsNode, other: TlsNode) -> str | None:
    with node.state.session() as s:
        p = s.scalar(select(Partnership).where(Partnership.domain == other.domain))
        return p.state if p else None


def remote(node: TlsNode, other: TlsNode) -> tuple[dict[str, str], dict[str, str]]:
    """({username: actor IRI}, {call title: call IRI}) ``node`` holds from ``other``."""
    with node.state.session() as s:
        members = s.scalars(select(Member).where(Member.node == other.domain, ~Member.local))
        calls = s.scalars(select(Call).where(Call.node == other.domain, ~Call.local))
        return {m.username: m.ap_id for m in members}, {c.title: c.ap_id for c in calls}


def test_two_nodes_federate_over_tls(tls_nodes: Any, pki: Pki) -> None:
    a, b = tls_nodes(2)
    alice = add_member(a.state, "alice")
    erik = add_member(b.state, "erik")
    assert alice == "https://a.coop.test/members/alice"  # production IRIs: https, no port

    # WebFinger over https, through nginx, certificate checked against the test CA.
    answer = requests.get(
        f"{a.base}/.well-known/webfinger",
        params={"resource": "acct:alice@a.coop.test"},
        verify=str(pki.ca_cert),
        timeout=10,
    )
    assert answer.status_code == 200
    (self_link,) = [link for link in answer.json()["links"] if link["rel"] == "self"]
    assert self_link["href"] == alice
    # Without the CA the certificate is refused: TLS is real.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{a.base}/actor", timeout=10)

    # Partnership (WebFinger + signed fetches + Follow/Accept, all over https).
    assert "requested" in cli(a, "request", b.domain)
    pump(a, b)
    assert partnership(b, a) == "pending"
    assert "active" in cli(b, "accept", a.domain)
    pump(a, b)
    assert partnership(a, b) == partnership(b, a) == "active"

    # A member profile and a call federate both ways.
    add_call(a.state, "alice", "Sound engineer wanted")
    add_call(b.state, "erik", "Translator wanted")
    pump(a, b)
    members, calls = remote(b, a)
    assert members == {"alice": alice}
    assert list(calls) == ["Sound engineer wanted"]
    assert calls["Sound engineer wanted"].startswith("https://a.coop.test/calls/")
    members, calls = remote(a, b)
    assert members == {"erik": erik}
    assert list(calls) == ["Translator wanted"]
