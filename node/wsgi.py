"""WSGI entry point for gunicorn: ``gunicorn 'node.wsgi:create()'``.

Settings come from COOPFED_INSTANCE_PATH/coopfed.toml and COOPFED_* variables. The worker loop
does not run inside web workers in production: set COOPFED_WORKER_IN_PROCESS=false and run
``coopfed worker`` processes instead.

``create()`` builds the heavy read-only state (vocabulary, match index) before returning, so
with gunicorn's ``preload_app = True`` (deploy/gunicorn.conf.py) it is built once in the master
and shared copy-on-write by every web worker, which is ready when it takes its first request.
"""

from __future__ import annotations

import gc

from flask import Flask

from node.app import create_app
from node.ops import health, logs
from node.settings import Settings


def _compile_templates_and_catalogs(app: Flask) -> None:
    """Jinja compiles a template, and Babel reads a language's catalog, on first use in each
    process: done here, once, they are shared like the index."""
    from flask_babel import get_translations

    from profiles.languages import UI_LANGUAGES

    for name in app.jinja_env.list_templates(extensions=("html", "xml", "txt")):
        app.jinja_env.get_template(name)
    for lang in UI_LANGUAGES:
        with app.test_request_context(headers={"Accept-Language": lang}):
            get_translations()


def create() -> Flask:
    settings = Settings.load()
    logs.configure_logging(settings)
    app = create_app(settings)
    state = app.extensions["coopfed"]
    health.warm_up(state)
    _compile_templates_and_catalogs(app)
    # Nothing of the master's may be shared across fork: connections are made per worker.
    state.engine.dispose()
    # Move what exists now out of the collector's generations: a collection in a worker would
    # otherwise write to (and so copy) every page of the shared index.
    gc.freeze()
    return app
