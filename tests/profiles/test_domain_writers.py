"""The domain writers and queries: remote rows go through the same writers as local edits, and
every viewer's listing is exactly what the visibility rules allow."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields as dataclass_fields
from datetime import date

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from federation.db import Base
from federation.errors import Forbidden
from profiles import fields, importers
from profiles.ap.mapping import parse_call, parse_person
from profiles.calls import can_view, save_remote_call, visible_calls
from profiles.context import NodeContext
from profiles.members import save_remote_member, visible_members
from profiles.models import Call, Member
from profiles.remote import RemoteProfile
from profiles.visibility import Visibility, may_view, viewer_audience

ESCO = "http://data.europa.eu/esco/skill/"
CTX = NodeContext(domain="a.example", base_url="https://a.example", name="Coop A")


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


def _person(username: str = "mia", **extra: object) -> dict[str, object]:
    return {
        "id": f"https://b.example/members/{username}",
        "type": "Person",
        "preferredUsername": username,
        "name": "Mia",
        "knowsAbout": [ESCO + "s1", ESCO + "o1"],
        "occupation": [ESCO + "o1"],
        "knowsLanguage": ["de"],
        "languageLevels": {"de": "native"},
        "availability": [{"start": "2026-01-01", "end": "2026-02-01"}],
        "visibility": "public",
        **extra,
    }


def _page(author: str = "https://b.example/members/mia", **extra: object) -> dict[str, object]:
    return {
        "id": "https://b.example/calls/c1",
        "type": "Page",
        "attributedTo": author,
        "name": "Licht",
        "requiredSkill": [ESCO + "s1"],
        "workingLanguage": ["de", "en"],
        "visibility": "partners",
        **extra,
    }


def _local(session: Session, username: str, visibility: str = "public") -> Member:
    member = Member(
        ap_id=CTX.member_iri(username),
        local=True,
        node=CTX.domain,
        username=username,
        name=username,
        visibility=visibility,
    )
    session.add(member)
    session.flush()
    return member


def test_remote_member_is_written_like_a_local_edit(session: Session) -> None:
    record = parse_person(_person(), coop_name="Coop B")
    assert isinstance(record, RemoteProfile)
    assert record.skills == (ESCO + "s1",)  # an occupation is not also a skill
    member = save_remote_member(session, record)
    assert (member.local, member.node, member.coop_name) == (False, "b.example", "Coop B")
    assert [c.concept_iri for c in member.occupations] == [ESCO + "o1"]
    assert [(x.code, x.level) for x in member.languages] == [("de", "native")]
    assert [(r.start, r.end) for r in member.availability] == [(date(2026, 1, 1), date(2026, 2, 1))]
    # an update replaces the lists
    save_remote_member(session, parse_person(_person(knowsAbout=[], occupation=[])))
    session.refresh(member)
    assert (member.skills, member.occupations) == ([], [])


def test_remote_documents_never_overwrite_local_rows(session: Session) -> None:
    mine = _local(session, "mia")
    record = parse_person(_person(id=mine.ap_id))
    with pytest.raises(Forbidden, match="local member"):
        save_remote_member(session, record)
    call = Call(ap_id="https://b.example/calls/c1", public_id="x", local=True, node="a.example")
    call.author, call.title = mine, "mine"
    session.add(call)
    session.flush()

    def author() -> Member:
        raise AssertionError("the author is not looked up for a refused call")

    with pytest.raises(Forbidden, match="local call"):
        save_remote_call(session, parse_call(_page()), author)


def test_a_username_that_moved_replaces_the_old_remote_row(session: Session) -> None:
    save_remote_member(session, parse_person(_person()))
    moved = parse_person(_person(id="https://b.example/users/mia-new"))
    save_remote_member(session, moved)
    rows = session.scalars(select(Member.ap_id).where(Member.node == "b.example")).all()
    assert rows == ["https://b.example/users/mia-new"]


def test_a_remote_call_cannot_change_its_author(session: Session) -> None:
    mia = save_remote_member(session, parse_person(_person()))
    ola = save_remote_member(session, parse_person(_person("ola")))
    call = save_remote_call(session, parse_call(_page()), mia)
    assert (call.local, call.author_id, call.visibility) == (False, mia.id, "partners")
    assert sorted(x.code for x in call.languages) == ["de", "en"]
    with pytest.raises(Forbidden, match="author"):
        save_remote_call(session, parse_call(_page(author=ola.ap_id)), ola)


def test_an_author_stub_is_coop_level(session: Session) -> None:
    stub = RemoteProfile.stub("https://b.example/members/x", "b.example", "X", "", "Coop B")
    member = save_remote_member(session, stub)
    assert (member.username, member.name, member.visibility) == ("x", "X", "coop")


def test_listings_are_what_may_view_allows(session: Session) -> None:
    """visible_members / visible_calls / can_view for every viewer, over every row kind."""
    author = _local(session, "author")
    remote_author = save_remote_member(session, parse_person(_person("rauthor")))
    expected_members: dict[str, tuple[str, bool]] = {}
    for vis in Visibility:
        expected_members[_local(session, f"l_{vis.value}", vis.value).ap_id] = (vis, True)
        record = parse_person(_person(f"r_{vis.value}", visibility="public"))
        remote = save_remote_member(session, record)
        remote.visibility = vis.value  # as if received so (coop: an author stub)
        expected_members[remote.ap_id] = (vis, False)
    expected_members[author.ap_id] = (Visibility.PUBLIC, True)
    expected_members[remote_author.ap_id] = (Visibility.PUBLIC, False)
    for n, (vis, local) in enumerate((v, loc) for v in Visibility for loc in (True, False)):
        row = Call(
            ap_id=f"https://x.example/calls/{n}",
            public_id=str(n),
            local=local,
            node="a.example" if local else "b.example",
            title=str(n),
            visibility=vis.value,
        )
        row.author = author if local else remote_author
        session.add(row)
    session.flush()
    viewers = [None, remote_author, author]
    for viewer in viewers:
        audience = viewer_audience(viewer)
        shown = set(session.scalars(visible_members(viewer).with_only_columns(Member.ap_id)))
        allowed = {
            k
            for k, (v, loc) in expected_members.items()
            if may_view(v, local=loc, audience=audience)
        }
        assert shown == allowed
        calls = session.scalars(select(Call)).all()
        shown_calls = set(session.scalars(visible_calls(viewer).with_only_columns(Call.ap_id)))
        assert shown_calls == {c.ap_id for c in calls if can_view(c, viewer)}
        assert shown_calls == {
            c.ap_id for c in calls if may_view(c.visibility, local=c.local, audience=audience)
        }


def test_one_definition_of_the_fields() -> None:
    """The dataclasses, the importer and the AS2 mapping all follow profiles.fields."""
    assert {f.name for f in dataclass_fields(fields.CallData)} == set(
        fields.CallFields.model_fields
    )
    assert {f.name for f in dataclass_fields(fields.ProfileData)} == set(
        fields.ProfileFields.model_fields
    )
    assert importers.CALL_FIELDS == fields.CALL_IMPORT_FIELDS
    assert "author" in importers.CALL_FIELDS and "ref" in importers.CALL_FIELDS
    assert fields.max_length(fields.CallFields, "title") == 200
    assert fields.CALL_AS2["skills_required"] == "requiredSkill"
    assert "ref" not in fields.CALL_AS2  # an importer's id never leaves the node
    schema = fields.CallFields.model_json_schema()
    assert schema["properties"]["title"]["maxLength"] == 200
    assert schema["properties"]["status"]["enum"] == list(fields.CALL_STATUSES)


def test_the_match_index_applies_the_nodes_rule() -> None:
    import matchmaking as mm
    from profiles.visibility import matchable

    for vis in Visibility:
        for local in (True, False):
            profile = mm.Profile(
                key="k",
                username="u",
                node="a.example" if local else "b.example",
                country="",
                city="",
                remote=False,
                visibility=vis.value,
                skills=frozenset(),
                occupations=frozenset(),
                languages={},
                availability=(),
            )
            assert mm.visible(profile, "a.example") is matchable(vis, local=local)
