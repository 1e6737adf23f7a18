"""Who this node is: its domain and the base of every IRI it mints."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeContext:
    domain: str  # e.g. "smart.se" (host[:port] in dev mode)
    base_url: str  # "https://smart.se"; "http://127.0.0.1:8001" only in dev mode
    name: str = ""  # "Smart Sweden"
    country: str = ""  # ISO 3166 alpha-2 of the coop

    def member_iri(self, username: str) -> str:
        return f"{self.base_url}/members/{username}"

    def call_iri(self, public_id: str) -> str:
        return f"{self.base_url}/calls/{public_id}"
