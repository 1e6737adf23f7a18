"""WSGI entry point for gunicorn: ``gunicorn 'node.wsgi:create()'``.

Settings come from COOPFED_INSTANCE_PATH/coopfed.toml and COOPFED_* variables. The worker loop
does not run inside web workers in production: set COOPFED_WORKER_IN_PROCESS=false and run
``coopfed worker`` processes instead.
"""

from __future__ import annotations

from flask import Flask

from node.app import create_app
from node.settings import Settings


def create() -> Flask:
    return create_app(Settings.load())
