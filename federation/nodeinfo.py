"""NodeInfo 2.1 (https://nodeinfo.diaspora.software/): how other servers and crawlers learn
what software a node runs and how big it is."""

from __future__ import annotations

from typing import Any

SCHEMA_21 = "http://nodeinfo.diaspora.software/ns/schema/2.1"
CONTENT_TYPE = f'application/json; profile="{SCHEMA_21}#"'
SOFTWARE_NAME = "coopfed"


def well_known_nodeinfo(base_url: str) -> dict[str, Any]:
    """``/.well-known/nodeinfo``: points at the 2.1 document on ``base_url``."""
    return {"links": [{"rel": SCHEMA_21, "href": f"{base_url.rstrip('/')}/nodeinfo/2.1"}]}


def build_nodeinfo(
    *,
    version: str,
    users_total: int,
    active_month: int,
    active_halfyear: int,
    local_posts: int,
    node_name: str,
    coop_country: str,
    repository: str | None = None,
    open_registrations: bool = False,
) -> dict[str, Any]:
    """The NodeInfo 2.1 document. Registrations are closed: members join through their coop."""
    software: dict[str, Any] = {"name": SOFTWARE_NAME, "version": version}
    if repository:
        software["repository"] = repository
    return {
        "version": "2.1",
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": open_registrations,
        "usage": {
            "users": {
                "total": users_total,
                "activeMonth": active_month,
                "activeHalfyear": active_halfyear,
            },
            "localPosts": local_posts,
        },
        "metadata": {"nodeName": node_name, "coop": {"country": coop_country}},
    }
