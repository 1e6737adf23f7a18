"""WSGI factories for bench_federation.py, loaded by gunicorn with ``--pythonpath bench``:

    gunicorn -w 2 'bench_wsgi:node("/tmp/instance")'   # a coopfed node from an instance folder
    gunicorn -w 2 'bench_wsgi:bare()'                  # the baseline: bare Flask

The bare app answers the same paths as the node with the least work Flask allows: POST /inbox
reads the body and answers 202; every GET answers a tiny constant.
"""

from __future__ import annotations

from flask import Flask, request


def node(instance: str) -> Flask:
    from node.app import create_app
    from node.settings import Settings

    return create_app(Settings.load(instance))


def bare() -> Flask:
    app = Flask("bare")

    @app.post("/inbox")
    def inbox() -> tuple[str, int]:
        request.get_data(cache=False)
        return "accepted", 202

    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    def hello(path: str) -> str:
        return "hello"

    return app
