"""Issue 10, leak 5: partners' avatars are fetched once (signed, through the guarded transport),
checked, re-encoded and served by the node itself; pages never hot-link another server."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from profiles import avatars
from profiles import members as member_service
from profiles.models import Member

from .conftest import Node
from .test_partnership import become_partners, skills


def _png(size: tuple[int, int] = (64, 48), **info: Any) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, (200, 30, 30))
    from PIL.PngImagePlugin import PngInfo

    meta = PngInfo()
    for k, v in info.items():
        meta.add_text(k, v)
    image.save(out, format="PNG", pnginfo=meta)
    return out.getvalue()


def test_reencode_checks_type_size_and_dimensions() -> None:
    original = _png(Author="Secret Person")
    clean = avatars.reencode(original)
    assert clean.startswith(b"\x89PNG") and b"Secret Person" not in clean
    with Image.open(io.BytesIO(clean)) as image:
        assert image.size == (64, 48)
    big = avatars.reencode(_png((2000, 1000)))
    with Image.open(io.BytesIO(big)) as image:
        assert max(image.size) == avatars.OUT_SIDE
    for bad in (
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"not an image",
        _png((avatars.MAX_SIDE + 1, 1)),
        b"\x89PNG" + b"0" * (avatars.MAX_BYTES + 1),
    ):
        with pytest.raises(ValueError):
            avatars.reencode(bad)


def _member_with_avatar(node: Node, username: str, vis: str) -> None:
    with node.session() as s:
        member = member_service.create_member(
            s,
            node.state.ctx,
            username=username,
            password="correct horse battery",
            profile=member_service.ProfileData(
                name=username.title(), visibility=vis, country="SE", skills=skills(node)
            ),
            vocab=node.state.vocabulary.get(s),
        )
        folder = node.state.settings.instance_path / "avatars"
        folder.mkdir(exist_ok=True)
        (folder / f"{username}-picture.png").write_bytes(_png(Author=username))
        member.avatar = f"{username}-picture.png"
        s.commit()


def test_partner_avatars_are_copied_and_served_locally(nodes: Any) -> None:
    a, b = nodes(2)
    _member_with_avatar(a, "pia", "public")
    _member_with_avatar(a, "pat", "partners")
    become_partners(a, b)

    with b.session() as s:
        copies = {
            m.username: (m.avatar, m.avatar_source)
            for m in s.scalars(select(Member).where(Member.local.is_(False)))
        }
    assert set(copies) == {"pia", "pat"}
    folder = b.state.settings.instance_path / "avatars"
    for username, (name, source) in copies.items():
        assert source == f"{a.base}/avatars/{username}-picture.png"
        assert name and not name.startswith("http"), username
        data = (folder / name).read_bytes()
        assert data.startswith(b"\x89PNG") and username.encode() not in data  # re-encoded

    client = b.app.test_client()
    page = client.get("/directory")
    assert page.headers["Content-Security-Policy"].count("img-src 'self' data:;") == 1
    assert a.base not in page.get_data(as_text=True)
    # Served by B to whoever may see the member there: the public member to anyone...
    served = client.get(f"/avatars/{copies['pia'][0]}")
    assert served.status_code == 200
    served.close()
    # ...the partners-only one only to B's signed-in members.
    assert client.get(f"/avatars/{copies['pat'][0]}").status_code == 404
    # A gave the partners-only picture to B's signed fetch only.
    assert a.app.test_client().get("/avatars/pat-picture.png").status_code == 404
