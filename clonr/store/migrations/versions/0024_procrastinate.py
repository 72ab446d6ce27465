"""procrastinate's queue tables and functions (CLONR_JOBS=postgres), from the schema procrastinate 3.10.0 ships.

Upgrading procrastinate means a new migration that runs its own files from `procrastinate/sql/migrations` newer
than 3.10.0, in order. A database where procrastinate's schema was applied by hand is left as it is.

Revision ID: 0024
Revises: 0023
"""

from alembic import op
from procrastinate.schema import SchemaManager

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if bind.exec_driver_sql("SELECT to_regclass('procrastinate_jobs')").scalar() is not None:
        return
    # psycopg runs a script of many statements when it is given no parameters: `%` and `:` stay as they are
    bind.connection.driver_connection.execute(SchemaManager.get_schema())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs, "
               "procrastinate_workers CASCADE")
    op.execute("DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type, "
               "procrastinate_job_status CASCADE")
    op.execute("DO $$ DECLARE f record; BEGIN FOR f IN SELECT oid::regprocedure AS name FROM pg_proc "
               "WHERE proname LIKE 'procrastinate%' LOOP EXECUTE 'DROP FUNCTION ' || f.name || ' CASCADE'; "
               "END LOOP; END $$")
