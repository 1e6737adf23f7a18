"""Following the project calls from the fediverse: the ``@calls@<domain>`` Group's handle to
copy, and a remote-follow form (the visitor's account or server -> a link to follow there).

The visitor's server is asked, through the guarded transport (https only, no private
addresses, domain blocks honoured), for the OStatus subscribe template in its WebFinger answer
for the visitor's account -- what Mastodon, Pleroma/Akkoma and Misskey publish
(https://docs.joinmastodon.org/spec/webfinger/); without one, or when only a server is given,
Mastodon's ``/authorize_interaction?uri=`` is the fallback. The answer is a page with the link,
not a redirect: the page's CSP (``form-action 'self'``) would stop a form that redirects to
another origin.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from federation import vocab
from federation.errors import BadRequest, FederationError
from federation.sanitize import plain_text
from federation.transport import Transport
from federation.webfinger import JRD_JSON, parse_handle, webfinger_url
from node.web import ctx, state
from profiles import visibility

bp = Blueprint("follow", __name__)

SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"
_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")


def calls_handle() -> str:
    return f"calls@{ctx().domain}"


def _scheme(transport: Transport) -> str:
    return "http" if transport.dev_mode else "https"


def _template_link(transport: Transport, account: str, target: str) -> str | None:
    """The account's server's subscribe URL for ``target``, from its WebFinger, else None."""
    _final, _ctype, body = transport.get(
        webfinger_url(account, dev_mode=transport.dev_mode), accept=f"{JRD_JSON}, application/json"
    )
    links = vocab.parse_json(body).get("links")
    for link in links if isinstance(links, list) else []:
        template = link.get("template") if isinstance(link, dict) else None
        if link.get("rel") == SUBSCRIBE_REL and isinstance(template, str) and "{uri}" in template:
            url = template.replace("{uri}", quote(target, safe=""))
            if url.startswith(f"{_scheme(transport)}://") or url.startswith("https://"):
                return url
    return None


def subscribe_url(transport: Transport, account: str, target: str) -> str:
    """Where the visitor follows ``target`` (an actor IRI) on their own server.

    ``account`` is ``@user@host``, ``user@host`` or a bare ``host``. Raises FederationError
    (BadRequest for a malformed entry, transport errors for an unreachable server)."""
    entry = account.strip().removeprefix("https://").removeprefix("@").rstrip("/").lower()
    if "@" in entry:
        found = _template_link(transport, entry, target)
        if found:
            transport.check_url(found)
            return found
        entry = parse_handle(entry)[1]
    if not _HOST.match(entry):
        raise BadRequest(f"not a server name: {account[:100]!r}")
    url = f"{_scheme(transport)}://{entry}/authorize_interaction?uri={quote(target, safe='')}"
    transport.check_url(url)
    return url


@bp.route("/follow")
def follow() -> Any:
    """The follow page; with ``?account=`` the link to follow from the visitor's server."""
    account = request.args.get("account", "").strip()[:300]
    link = error = None
    if account:
        fed = state().federation_service()
        try:
            link = subscribe_url(fed.transport, account, fed.coop.calls_iri)
        except FederationError:
            error = _(
                "Could not find a fediverse server for %(account)s. Give your handle, such as "
                "@name@example.social, or your server's name.",
                account=account,
            )
    status = 422 if error else 200
    return render_template("follow.html", account=account, link=link, error=error), status


@bp.app_template_global()
def share_preview(row: Any) -> bool:
    """May link previews (OpenGraph, meta description) show this call or member? Only what
    the public may see: a preview bot asks anonymously, and a member-only page must not carry
    its text in a tag a signed-in member copies along."""
    return visibility.may_view(row.visibility, local=row.local, audience=visibility.Audience.PUBLIC)


@bp.app_template_filter("snippet")
def snippet(html: str | None, length: int = 200) -> str:
    """Plain text of sanitised HTML, cut at a word near ``length`` characters."""
    text = plain_text(html)
    if len(text) <= length:
        return text
    return text[:length].rsplit(" ", 1)[0] + "…"
