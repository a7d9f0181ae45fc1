"""Alembic environment: migrations run on the connection the store hands over (no alembic.ini)."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the store runs these migrations
    raise RuntimeError("energy_nb store migrations run through energy_nb.data.migrations.upgrade")
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
