"""Billing: prices per clone and audience, message packs, who pays (accounts), what they bought (grants), the
outbox of Billing Meter events, Stripe webhook events handled, and what each ledger row was charged.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

TABLES = ("prices", "message_packs", "billing_accounts", "billing_grants", "billing_outbox", "stripe_events",
          "stripe_prices")


def upgrade() -> None:
    with op.batch_alter_table("usage_events") as batch:
        batch.add_column(sa.Column("audience", sa.String(12), nullable=True))
        batch.add_column(sa.Column("charge", sa.String(8), nullable=True))
        batch.add_column(sa.Column("price_micros", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "prices",
        sa.Column("clone_id", sa.String(32), sa.ForeignKey("clones.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("audience", sa.String(12), primary_key=True),
        sa.Column("free_messages", sa.Integer, nullable=True),
        sa.Column("price_micros", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "message_packs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("clone_id", sa.String(32), sa.ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
        sa.Column("messages", sa.Integer, nullable=False),
        sa.Column("amount_cents", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_message_packs_clone", "message_packs", ["clone_id"])
    op.create_table(
        "billing_accounts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("clone_id", sa.String(32), nullable=False),
        sa.Column("payer", sa.String(600), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("free_used", sa.Integer, nullable=False),
        sa.Column("pack_balance", sa.Integer, nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=True),
        sa.Column("subscription_id", sa.String(255), nullable=True),
        sa.Column("subscription_status", sa.String(24), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("clone_id", "payer", name="uq_billing_accounts_payer"),
    )
    op.create_index("ix_billing_accounts_customer", "billing_accounts", ["customer_id"])
    op.create_table(
        "billing_grants",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("messages", sa.Integer, nullable=False),
        sa.Column("amount_cents", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "billing_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("usage_id", sa.Integer, nullable=False, unique=True),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("identifier", sa.String(100), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(300), nullable=True),
    )
    op.create_index("ix_billing_outbox_due", "billing_outbox", ["sent_at", "due_at"])
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(80), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "stripe_prices",
        sa.Column("clone_id", sa.String(32), primary_key=True),
        sa.Column("audience", sa.String(12), primary_key=True),
        sa.Column("price_micros", sa.Integer, primary_key=True),
        sa.Column("price_id", sa.String(255), nullable=False),
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
    with op.batch_alter_table("usage_events") as batch:
        batch.drop_column("price_micros")
        batch.drop_column("charge")
        batch.drop_column("audience")
