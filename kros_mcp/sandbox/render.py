"""The sandbox's answers in the shapes the Buy Numbers guide shows (plus the extensions it allows)."""

from __future__ import annotations

import json
from typing import Any

from .db import SIP_DOMAIN, SandboxDB

__all__ = [
    "render_endpoint",
    "render_inventory",
    "render_number",
    "render_number_detail",
    "render_purchased",
]


def render_endpoint(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "type": row["type"],
        "url": row["url"],
        "status": row["status"],
        "provider_config": json.loads(row["provider_config"]) if row["provider_config"] else None,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def render_number(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "number": row["e164"],
        "e164": row["e164"],
        "country": row["country"],
        "type": row["type"],
        "status": row["status"],
        "endpoint_id": row["endpoint_id"],
        "allow_inbound": bool(row["allow_inbound"]),
        "allow_outbound": bool(row["allow_outbound"]),
        "monthly_cost_cents": row["monthly_cost_cents"],
        "inventory_id": row["inventory_id"],
        "sip_uri": f"sip:{row['e164']}@{SIP_DOMAIN}",
        "organization_id": row["org_id"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def render_purchased(row: Any) -> dict[str, Any]:
    body = render_number(row)
    body["setup_cost_cents"] = row["setup_cost_cents"]
    body["total_cost_cents"] = row["setup_cost_cents"] + row["monthly_cost_cents"]
    return body


def render_number_detail(db: SandboxDB, row: Any) -> dict[str, Any]:
    body = render_number(row)
    endpoint = db.get_endpoint(row["org_id"], row["endpoint_id"]) if row["endpoint_id"] else None
    body["endpoint"] = None
    if endpoint is not None:
        config = json.loads(endpoint["provider_config"]) if endpoint["provider_config"] else {}
        body["endpoint"] = {
            "id": endpoint["id"],
            "name": endpoint["name"],
            "type": endpoint["type"],
            "provider": config.get("provider", endpoint["type"]),
            "url": endpoint["url"],
            "status": endpoint["status"],
        }
    body["sip_credentials"] = {
        "username": row["e164"].lstrip("+"),
        "password": row["sip_password"],
        "domain": SIP_DOMAIN,
        "ip_address": "127.0.0.1",
        "port": 5060,
        "transport": "udp",
    }
    return body


def render_inventory(row: Any) -> dict[str, Any]:
    """An available number as the guide shows it: `inventory_id` (not `id`), then the extensions
    the guide allows (`e164`, `area_code`)."""
    return {
        "inventory_id": row["id"],
        "number": row["e164"],
        "e164": row["e164"],
        "country": row["country"],
        "type": row["type"],
        "area_code": row["area_code"],
        "setup_cost_cents": row["setup_cost_cents"],
        "monthly_cost_cents": row["monthly_cost_cents"],
        "capabilities": {"voice": True, "sms": bool(row["sms"]), "fax": False},
    }
