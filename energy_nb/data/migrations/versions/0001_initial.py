"""The first schema: prices, series versions, imports, model runs, forecasts, backtests.

It is the schema the first (hand-migrated, ``PRAGMA user_version = 1``) release created, so such a
store is stamped with this revision instead of running it.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables."""
    op.create_table(
        "prices",
        sa.Column("commodity", sa.Text, primary_key=True),
        sa.Column("date", sa.Text, primary_key=True),
        sa.Column("price", sa.Float),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("ingested_at", sa.Text, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "series_versions",
        sa.Column("commodity", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
    )
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("commodity", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("imported_at", sa.Text, nullable=False),
        *(sa.Column(name, sa.Integer, nullable=False) for name in (
            "rows_read", "rows_added", "rows_replaced", "rows_unchanged", "conflicts")),
    )
    op.create_table(
        "model_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("commodity", sa.Text, nullable=False),
        sa.Column("params_json", sa.Text, nullable=False),
        sa.Column("train_start", sa.Text),
        sa.Column("train_end", sa.Text),
        sa.Column("data_version", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("versions_json", sa.Text),
        sa.Column("metrics_json", sa.Text),
    )
    op.create_index("model_runs_commodity", "model_runs", ["commodity", "name"])
    op.create_table(
        "forecasts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("commodity", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("horizon", sa.Integer, nullable=False),
        sa.Column("levels_json", sa.Text, nullable=False),
        sa.Column("data_version", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("inputs_json", sa.Text),
        sa.Column("result_json", sa.Text, nullable=False),
    )
    op.create_index("forecasts_topic", "forecasts", ["commodity", "model", "origin"])
    op.create_table(
        "backtests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("commodity", sa.Text, nullable=False),
        sa.Column("strategy", sa.Text, nullable=False),
        sa.Column("params_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("stats_json", sa.Text, nullable=False),
        sa.Column("trades_json", sa.Text),
        sa.Column("equity_json", sa.Text),
    )


def downgrade() -> None:
    """Drop the tables."""
    for table in ("backtests", "forecasts", "model_runs", "imports", "series_versions",
                  "prices"):
        op.drop_table(table)
