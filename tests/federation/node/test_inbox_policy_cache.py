"""The inbox answers from a cached domain policy: an admin's block or unblock must still apply to
the very next POST (the cache would otherwise keep the old answer for its ttl of 5 s)."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from federation import signatures, vocab

from .test_admin_federation import sign_in_admin
from .test_mastodon_follow import FakeMastodon


def _create(fake: FakeMastodon) -> dict[str, Any]:
    oid = f"{fake.actor_id}/notes/{secrets.token_hex(6)}"
    note = {"id": oid, "type": "Note", "attributedTo": fake.actor_id, "content": "hello"}
    return {
        "@context": vocab.AS_CONTEXT,
        "id": f"{oid}/activity",
        "type": "Create",
        "actor": fake.actor_id,
        "object": note,
        "to": [vocab.PUBLIC],
    }


def _post(client: Any, base_url: str, fake: FakeMastodon) -> int:
    body = json.dumps(_create(fake)).encode()
    headers = signatures.sign_request(
        "POST",
        f"{base_url}/inbox",
        {"Content-Type": vocab.ACTIVITY_JSON},
        body,
        f"{fake.actor_id}#main-key",
        fake.private_pem,
    )
    headers.pop("Host")
    return int(client.post("/inbox", data=body, headers=headers, base_url=base_url).status_code)


def _admin(client: Any, action: str, value: str) -> None:
    html = client.get("/admin/federation/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = client.post(
        f"/admin/federation/blocks/{action}", data={"value": value, "csrf_token": token}
    )
    assert r.status_code in (302, 303)


def test_admin_block_applies_to_the_next_inbox_post(make_node) -> None:
    app = make_node()
    base_url = app.extensions["coopfed"].settings.base_url
    admin, inbox = app.test_client(), app.test_client()
    sign_in_admin(app, admin)
    fake = FakeMastodon()
    try:
        assert _post(inbox, base_url, fake) == 202  # the policy snapshot is now loaded
        _admin(admin, "block_domain", f"127.0.0.1:{fake.port}")
        assert _post(inbox, base_url, fake) == 403
        _admin(admin, "unblock_domain", f"127.0.0.1:{fake.port}")
        assert _post(inbox, base_url, fake) == 202
        _admin(admin, "block_actor", fake.actor_id)
        assert _post(inbox, base_url, fake) == 403
        _admin(admin, "unblock_actor", fake.actor_id)
        assert _post(inbox, base_url, fake) == 202
    finally:
        fake.close()
