"""The usage ledger and what it bills: prices, message packs, who pays (accounts), what they bought (grants), the
outbox of Billing Meter events and the Stripe webhook events already handled.

A billable reply is charged in the transaction that stores it: its ledger row says how it was paid (free,
from a pack, metered, or unpaid when two messages raced past the last free one), the payer's account moves,
and a metered reply's outbox row is written beside it. A crash can delay a Stripe meter event, never lose
or double it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from clonr.store.database import Database, _aware, _now
from clonr.store.records import AccountRecord, OutboxEvent, PackRecord, PriceRecord
from clonr.store.schema import (
    billing_accounts,
    billing_grants,
    billing_outbox,
    message_packs,
    prices,
    stripe_events,
    stripe_prices,
    usage_events,
)

SUBSCRIBED = frozenset({"active", "trialing", "past_due"})  # past_due: Stripe is still retrying the card


def month_of(when: datetime) -> str:
    return when.strftime("%Y-%m")


@dataclass(frozen=True)
class Bill:
    """Who pays for a reply: the audience whose price applies, and the payer (a fan's id, or `owner:<id>`)."""

    audience: str
    payer: str


@dataclass(frozen=True)
class Grant:
    """Messages a paid Checkout session bought (its id makes the grant happen once)."""

    id: str
    account_id: str
    messages: int
    amount_cents: int
    currency: str


@dataclass(frozen=True)
class SubscriptionState:
    """A subscription as Stripe says it is now (read when a webhook names it, whatever the events' order)."""

    account_id: str
    subscription_id: str
    status: str


class LedgerRecords(Database):
    # -- the ledger -----------------------------------------------------------------------------

    def _write_usage(self, connection: Connection, clone_id: str, fan_id: str, message_id: int | None,
                     status: str, created_at: datetime, usage: dict[str, Any]) -> int:
        """A reply attempt's ledger row; a billable one (`usage["bill"]`: audience and payer) that did not fail
        is charged here too, with its outbox row when metered."""
        row = dict(usage)
        bill: Bill | None = row.pop("bill", None)
        charge, price_micros, customer = None, 0, None
        if bill is not None and status != "failed":
            charge, price_micros, customer = self._charge(connection, clone_id, bill.payer, bill.audience, created_at)
        usage_id = connection.execute(usage_events.insert().values(
            clone_id=clone_id, fan_id=fan_id, message_id=message_id, status=status, created_at=created_at,
            audience=bill and bill.audience, charge=charge, price_micros=price_micros, **row)
        ).inserted_primary_key[0]
        if charge == "metered":
            connection.execute(billing_outbox.insert().values(
                usage_id=usage_id, customer_id=customer, identifier=meter_identifier(customer, usage_id, message_id),
                created_at=created_at, due_at=created_at))
        return usage_id

    def _charge(self, connection: Connection, clone_id: str, payer: str, audience: str,
                when: datetime) -> tuple[str, int, str | None]:
        """(charge, price, Stripe customer) of one reply: the month's free messages first, then bought ones,
        then the metered subscription."""
        price = connection.execute(sa.select(prices).where(prices.c.clone_id == clone_id,
                                                           prices.c.audience == audience)).mappings().first()
        if price is None or price["free_messages"] is None:
            return "free", 0, None
        account = self._locked_account(connection, clone_id, payer)
        month = month_of(when)
        free_used = account["free_used"] if account["period"] == month else 0
        values: dict[str, Any] = {"period": month, "free_used": free_used, "updated_at": when}
        charge, price_micros = "unpaid", 0
        if free_used < price["free_messages"]:
            values["free_used"], charge = free_used + 1, "free"
        elif account["pack_balance"] > 0:
            values["pack_balance"], charge = account["pack_balance"] - 1, "pack"
        elif price["price_micros"] and account["subscription_status"] in SUBSCRIBED and account["customer_id"]:
            charge, price_micros = "metered", price["price_micros"]
        connection.execute(billing_accounts.update().where(billing_accounts.c.id == account["id"]).values(**values))
        return charge, price_micros, account["customer_id"]

    def _locked_account(self, connection: Connection, clone_id: str, payer: str) -> dict[str, Any]:
        """The payer's account row, made when missing, locked until the transaction ends (Postgres; SQLite's
        writer holds the whole database already)."""
        query = (sa.select(billing_accounts).where(billing_accounts.c.clone_id == clone_id,
                                                   billing_accounts.c.payer == payer).with_for_update())
        row = connection.execute(query).mappings().first()
        if row is None:
            try:
                with connection.begin_nested():
                    connection.execute(billing_accounts.insert().values(
                        id=uuid.uuid4().hex, clone_id=clone_id, payer=payer, period=month_of(_now()), free_used=0,
                        pack_balance=0, updated_at=_now()))
            except IntegrityError:  # another process made it between the read and the write
                pass
            row = connection.execute(query).mappings().one()
        return dict(row)

    def add_usage(self, clone_id: str, fan_id: str, status: str, usage: dict[str, Any]) -> None:
        """A ledger row for a reply attempt that stored no message: the model failed, or it was a draft."""
        with self._transaction() as connection:
            self._write_usage(connection, clone_id, fan_id, None, status, _now(), usage)

    def usage_rows(self, owner_id: str | None = None, clone_id: str | None = None,
                   since: datetime | None = None) -> list[dict[str, Any]]:
        """The ledger's rows, oldest first: only `owner_id`'s clones, `clone_id`'s, or those since `since`,
        when given."""
        query = sa.select(usage_events).order_by(usage_events.c.id)
        if owner_id is not None:
            query = query.where(usage_events.c.owner_id == owner_id)
        if clone_id is not None:
            query = query.where(usage_events.c.clone_id == clone_id)
        if since is not None:
            query = query.where(usage_events.c.created_at >= since)
        with self._transaction() as connection:
            return [{**row, "created_at": _aware(row["created_at"])}
                    for row in connection.execute(query).mappings().all()]

    def usage_of_reply(self, message_id: int) -> dict[str, Any] | None:
        """The ledger row of a stored reply."""
        with self._transaction() as connection:
            row = connection.execute(sa.select(usage_events).where(usage_events.c.message_id == message_id)
                                     ).mappings().first()
        return None if row is None else dict(row)

    # -- prices and packs -----------------------------------------------------------------------

    def set_price(self, clone_id: str, audience: str, free_messages: int | None, price_micros: int) -> PriceRecord:
        with self._transaction() as connection:
            key = (prices.c.clone_id == clone_id, prices.c.audience == audience)
            values = dict(free_messages=free_messages, price_micros=price_micros, updated_at=_now())
            if connection.execute(prices.update().where(*key).values(**values)).rowcount == 0:
                connection.execute(prices.insert().values(clone_id=clone_id, audience=audience, **values))
        return PriceRecord(clone_id, audience, free_messages, price_micros)

    def clear_price(self, clone_id: str, audience: str) -> None:
        with self._transaction() as connection:
            connection.execute(prices.delete().where(prices.c.clone_id == clone_id, prices.c.audience == audience))

    def prices_of(self, clone_id: str) -> dict[str, PriceRecord]:
        with self._transaction() as connection:
            rows = connection.execute(sa.select(prices).where(prices.c.clone_id == clone_id)).mappings().all()
        return {row["audience"]: PriceRecord(row["clone_id"], row["audience"], row["free_messages"],
                                             row["price_micros"]) for row in rows}

    def add_pack(self, clone_id: str, messages: int, amount_cents: int) -> PackRecord:
        pack = PackRecord(uuid.uuid4().hex, clone_id, messages, amount_cents)
        with self._transaction() as connection:
            connection.execute(message_packs.insert().values(id=pack.id, clone_id=clone_id, messages=messages,
                                                             amount_cents=amount_cents, created_at=_now()))
        return pack

    def packs_of(self, clone_id: str) -> list[PackRecord]:
        """The clone's packs, fewest messages first."""
        query = (sa.select(message_packs).where(message_packs.c.clone_id == clone_id)
                 .order_by(message_packs.c.messages, message_packs.c.id))
        with self._transaction() as connection:
            return [PackRecord(r["id"], r["clone_id"], r["messages"], r["amount_cents"])
                    for r in connection.execute(query).mappings().all()]

    def delete_pack(self, clone_id: str, pack_id: str) -> bool:
        with self._transaction() as connection:
            return connection.execute(message_packs.delete().where(
                message_packs.c.clone_id == clone_id, message_packs.c.id == pack_id)).rowcount > 0

    # -- accounts -------------------------------------------------------------------------------

    def billing_state(self, clone_id: str, payer: str, audience: str) -> tuple[PriceRecord | None,
                                                                               AccountRecord | None]:
        """What the audience pays for the clone and where the payer stands, read together (before a turn)."""
        with self._transaction() as connection:
            price = connection.execute(sa.select(prices).where(prices.c.clone_id == clone_id,
                                                               prices.c.audience == audience)).mappings().first()
            account = connection.execute(sa.select(billing_accounts).where(
                billing_accounts.c.clone_id == clone_id, billing_accounts.c.payer == payer)).mappings().first()
        return (None if price is None else PriceRecord(price["clone_id"], audience, price["free_messages"],
                                                       price["price_micros"]),
                None if account is None else _account(account))

    def ensure_account(self, clone_id: str, payer: str) -> AccountRecord:
        with self._transaction() as connection:
            return _account(self._locked_account(connection, clone_id, payer))

    def get_account(self, account_id: str) -> AccountRecord | None:
        return self._account_where(billing_accounts.c.id == account_id)

    def account_by_payer(self, clone_id: str, payer: str) -> AccountRecord | None:
        return self._account_where(sa.and_(billing_accounts.c.clone_id == clone_id, billing_accounts.c.payer == payer))

    def account_by_customer(self, customer_id: str) -> AccountRecord | None:
        return self._account_where(billing_accounts.c.customer_id == customer_id)

    def _account_where(self, condition: sa.ColumnElement[bool]) -> AccountRecord | None:
        with self._transaction() as connection:
            row = connection.execute(sa.select(billing_accounts).where(condition)).mappings().first()
        return None if row is None else _account(row)

    def accounts_of(self, clone_ids: list[str]) -> list[AccountRecord]:
        query = sa.select(billing_accounts).where(billing_accounts.c.clone_id.in_(clone_ids))
        with self._transaction() as connection:
            return [_account(row) for row in connection.execute(query).mappings().all()]

    def set_customer(self, account_id: str, customer_id: str) -> str:
        """Give the account its Stripe customer unless another request already did; the customer it has."""
        with self._transaction() as connection:
            connection.execute(billing_accounts.update().where(
                billing_accounts.c.id == account_id, billing_accounts.c.customer_id.is_(None)
            ).values(customer_id=customer_id, updated_at=_now()))
            return connection.execute(sa.select(billing_accounts.c.customer_id).where(
                billing_accounts.c.id == account_id)).scalar_one()

    def metered_price(self, clone_id: str, audience: str, price_micros: int) -> str | None:
        with self._transaction() as connection:
            return connection.execute(sa.select(stripe_prices.c.price_id).where(
                stripe_prices.c.clone_id == clone_id, stripe_prices.c.audience == audience,
                stripe_prices.c.price_micros == price_micros)).scalar()

    def keep_metered_price(self, clone_id: str, audience: str, price_micros: int, price_id: str) -> str:
        """Remember the Stripe Price made for this audience and price; the one kept first wins a race."""
        try:
            with self._transaction() as connection:
                connection.execute(stripe_prices.insert().values(clone_id=clone_id, audience=audience,
                                                                 price_micros=price_micros, price_id=price_id))
        except IntegrityError:
            pass
        return self.metered_price(clone_id, audience, price_micros) or price_id

    # -- Stripe webhook events ------------------------------------------------------------------

    def event_handled(self, event_id: str) -> bool:
        with self._transaction() as connection:
            return connection.execute(sa.select(stripe_events.c.id).where(stripe_events.c.id == event_id)
                                      ).first() is not None

    def handle_event(self, event_id: str, event_type: str, grant: Grant | None = None,
                     subscription: SubscriptionState | None = None) -> bool:
        """Record a webhook event with what it changes, in one transaction; False (nothing changed) when it
        was handled before. A Checkout session grants its messages once, whichever event brings it."""
        try:
            with self._transaction() as connection:
                connection.execute(stripe_events.insert().values(id=event_id, type=event_type, received_at=_now()))
                if grant is not None and not connection.execute(sa.select(billing_grants.c.id).where(
                        billing_grants.c.id == grant.id)).first():
                    connection.execute(billing_grants.insert().values(
                        id=grant.id, account_id=grant.account_id, messages=grant.messages,
                        amount_cents=grant.amount_cents, currency=grant.currency, created_at=_now()))
                    connection.execute(billing_accounts.update().where(billing_accounts.c.id == grant.account_id)
                                       .values(pack_balance=billing_accounts.c.pack_balance + grant.messages,
                                               updated_at=_now()))
                if subscription is not None:
                    connection.execute(billing_accounts.update().where(
                        billing_accounts.c.id == subscription.account_id).values(
                        subscription_id=subscription.subscription_id, subscription_status=subscription.status,
                        updated_at=_now()))
        except IntegrityError:  # the same event, handled by another process meanwhile
            return False
        return True

    def grants_of(self, account_ids: list[str]) -> list[dict[str, Any]]:
        query = sa.select(billing_grants).where(billing_grants.c.account_id.in_(account_ids))
        with self._transaction() as connection:
            return [{**row, "created_at": _aware(row["created_at"])}
                    for row in connection.execute(query).mappings().all()]

    # -- the outbox -----------------------------------------------------------------------------

    def claim_outbox(self, worker: str, due_by: datetime, lease_until: datetime,
                     limit: int = 100) -> list[OutboxEvent]:
        """Unsent events due by `due_by`, claimed for `worker` until `lease_until`: a row another sender claimed
        first is skipped (each claim is a conditional update, so two senders never both get one)."""
        due = (billing_outbox.c.sent_at.is_(None), billing_outbox.c.due_at <= due_by)
        with self._transaction() as connection:
            ids = connection.execute(sa.select(billing_outbox.c.id).where(*due).order_by(billing_outbox.c.id)
                                     .limit(limit)).scalars().all()
            claimed = [i for i in ids if connection.execute(billing_outbox.update().where(
                billing_outbox.c.id == i, *due).values(due_at=lease_until, claimed_by=worker)).rowcount == 1]
        return self.outbox(ids=claimed)

    def outbox(self, ids: list[int] | None = None, unsent: bool = False,
               since: datetime | None = None) -> list[OutboxEvent]:
        query = sa.select(billing_outbox).order_by(billing_outbox.c.id)
        if ids is not None:
            query = query.where(billing_outbox.c.id.in_(ids))
        if unsent:
            query = query.where(billing_outbox.c.sent_at.is_(None))
        if since is not None:
            query = query.where(billing_outbox.c.created_at >= since)
        with self._transaction() as connection:
            return [OutboxEvent(row["id"], row["usage_id"], row["customer_id"], row["identifier"],
                                _aware(row["created_at"]), row["attempts"],
                                row["sent_at"] and _aware(row["sent_at"]))
                    for row in connection.execute(query).mappings().all()]

    def outbox_sent(self, event_id: int) -> None:
        with self._transaction() as connection:
            connection.execute(billing_outbox.update().where(billing_outbox.c.id == event_id).values(
                sent_at=_now(), attempts=billing_outbox.c.attempts + 1, last_error=None))

    def outbox_failed(self, event_id: int, error: str, retry_at: datetime) -> None:
        with self._transaction() as connection:
            connection.execute(billing_outbox.update().where(billing_outbox.c.id == event_id).values(
                attempts=billing_outbox.c.attempts + 1, last_error=error[:500], due_at=retry_at))

    def metered_without_outbox(self) -> list[dict[str, Any]]:
        """Metered ledger rows with no outbox row (only a restored backup or a hand edit makes these)."""
        missing = ~sa.select(billing_outbox.c.id).where(billing_outbox.c.usage_id == usage_events.c.id).exists()
        query = sa.select(usage_events).where(usage_events.c.charge == "metered", missing)
        with self._transaction() as connection:
            return [dict(row) for row in connection.execute(query).mappings().all()]

    def restore_outbox(self, usage_id: int, customer_id: str) -> None:
        """The outbox row a metered ledger row should have had."""
        with self._transaction() as connection:
            row = connection.execute(sa.select(usage_events).where(usage_events.c.id == usage_id)).mappings().one()
            connection.execute(billing_outbox.insert().values(
                usage_id=usage_id, customer_id=customer_id,
                identifier=meter_identifier(customer_id, usage_id, row["message_id"]),
                created_at=row["created_at"], due_at=_now()))


def meter_identifier(customer_id: str, usage_id: int, message_id: int | None) -> str:
    """The Billing Meter event's identifier: the reply's message id (a draft's: its ledger row's), so Stripe
    counts a reply once however often it is sent; after the customer's id, which no other database (a restored
    backup, another deployment on the same Stripe account) gives to its own customers."""
    return f"{customer_id}-msg-{message_id}" if message_id is not None else f"{customer_id}-usage-{usage_id}"


def _account(row: Any) -> AccountRecord:
    current = row["period"] == month_of(_now())
    return AccountRecord(row["id"], row["clone_id"], row["payer"], row["period"],
                         row["free_used"] if current else 0, row["pack_balance"], row["customer_id"],
                         row["subscription_id"], row["subscription_status"])
