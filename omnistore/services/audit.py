"""Audit trail: written inside the caller's transaction."""
from flask import has_request_context, request

from ..extensions import db
from ..models import AuditEvent


def record(action, *, entity=None, staff=None, api_client=None, location_id=None, **detail):
    """Add an AuditEvent for `action` on `entity` (a model instance or a (type, id) pair)."""
    entity_type, entity_id = "", ""
    if isinstance(entity, tuple):
        entity_type, entity_id = entity
    elif entity is not None:
        entity_type, entity_id = entity.__tablename__, entity.id
    if location_id is None and staff is not None:
        location_id = staff.location_id
    event = AuditEvent(
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id or ""),
        staff_id=staff.id if staff is not None else None,
        api_client_id=api_client.id if api_client is not None else None,
        location_id=location_id,
        ip_address=(request.remote_addr or "")[:45] if has_request_context() else "",
        detail=detail,
    )
    db.session.add(event)
    return event
