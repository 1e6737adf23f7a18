"""Lean web workers: the WSGI entry point builds the heavy state before serving (gunicorn's
preload shares it copy-on-write), and an index built once stays current with changes made by
other processes."""

from __future__ import annotations

import gc
import logging
import secrets

from node import db as node_db
from node.app import create_app
from node.settings import Settings, write_settings_file
from profiles import members as member_service
from profiles.vocabulary import load_curated

PASSWORD = "correct horse battery"


def test_wsgi_entry_point_is_ready_before_the_first_request(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "node"
    folder.mkdir()
    write_settings_file(
        folder / "coopfed.toml",
        {"domain": "smart.test", "name": "Smart", "country": "SE", "dev_mode": True,
         "secret_key": secrets.token_hex(16)},
    )  # fmt: skip
    settings = Settings.load(folder)
    engine = node_db.make_engine(settings.sqlalchemy_url)
    node_db.upgrade(engine)
    app = create_app(settings, engine=engine)
    with app.extensions["coopfed"].session() as s:
        load_curated(s)
        member_service.create_member(s, app.extensions["coopfed"].ctx, username="ann",
                                     password=PASSWORD)  # fmt: skip
        s.commit()
    engine.dispose()
    monkeypatch.setenv("COOPFED_INSTANCE_PATH", str(folder))
    from node import wsgi

    try:
        served = wsgi.create()
        state = served.extensions["coopfed"]
        assert state.matching.built and state.matching.builds == 1
        assert state.engine.pool.checkedout() == 0  # nothing open to share across fork
        assert gc.get_freeze_count() > 0
        r = served.test_client().get("/readyz")
        assert (r.status_code, r.get_json()) == (200, {"status": "ready"})
        assert state.matching.builds == 1  # the request did not build anything
    finally:
        gc.unfreeze()
        root = logging.getLogger()
        for handler in [h for h in root.handlers if h.get_name() == "coopfed"]:
            root.removeHandler(handler)
        served.extensions["coopfed"].engine.dispose()


def test_an_index_built_once_follows_other_processes(make_node) -> None:
    one = make_node()
    state1 = one.extensions["coopfed"]
    # A second process on the same database: its own state, sessions and index.
    two = create_app(state1.settings, engine=state1.engine)
    state2 = two.extensions["coopfed"]
    for state in (state1, state2):
        with state.session() as s:
            state.match_service().warm(s)
    service2 = state2.match_service()
    service2.refresh_seconds = service2.reconcile_seconds = 0
    with state1.session() as s:
        member = member_service.create_member(s, state1.ctx, username="bo", password=PASSWORD)
        s.commit()
        key = member.ap_id
    assert not service2.indexed(key)
    assert service2.job_refresh(state2) >= 1  # the poll of the change watermark
    assert service2.indexed(key)
    assert service2.builds == 1  # kept current, never rebuilt
    with state1.session() as s:
        member_service.delete_member(s, member_service.get_local(s, state1.ctx, "bo"))
        s.commit()
    service2.job_refresh(state2)
    assert not service2.indexed(key)
