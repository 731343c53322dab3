def record(**kwargs):
    """`audit.record(action=..., ...)`: append an audit entry (see audit.services.audit_record)."""
    from audit.services import audit_record

    return audit_record(**kwargs)
