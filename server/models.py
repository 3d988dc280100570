"""Import every model module so that Base.metadata is complete (Alembic, tests)."""


def import_all() -> None:
    import server.access.models  # noqa: F401
    import server.audit.models  # noqa: F401
    import server.meetings.models  # noqa: F401
    import server.notify.models  # noqa: F401
    import server.pathway.models  # noqa: F401
    import server.plan.models  # noqa: F401
    import server.research.models  # noqa: F401
