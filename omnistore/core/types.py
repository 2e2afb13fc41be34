"""Column helpers shared by the model modules."""

from datetime import UTC, datetime

from sqlalchemy import CheckConstraint, DateTime, TypeDecorator


def utcnow():
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on SQLite (which forgets the zone) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store times in UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def one_of(column, values, name):
    """A CHECK constraint that keeps a status-like column to its allowed values."""
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name)


def on_database(dialect_name):
    """Alembic's `include_object` for a database of `dialect_name`: a schema item the models create on other
    databases only (`Index(...).ddl_if(dialect="postgresql")`) is neither expected nor generated there."""

    def include(item, _name, _type, _reflected, _compare_to):
        condition = getattr(item, "_ddl_if", None)
        if condition is None or condition.dialect is None:
            return True
        wanted = (condition.dialect,) if isinstance(condition.dialect, str) else tuple(condition.dialect)
        return dialect_name in wanted

    return include
