"""What a clone's messages cost each audience, and where a payer stands.

A creator prices each audience (anonymous widget visitors, signed-in fans, Discord users, API keys): a free
allowance a month (none, N, or unlimited), then a price per message for those who subscribe; and message
packs fans can buy. No price for an audience means free and unlimited, as before billing existed.

Fans pay for themselves; an API key's messages are paid by the key's owner (`owner:<id>`), who uses them for
their own end users. The charge itself is made where the reply is stored (`clonr.store.ledger`); here a turn
is admitted first, so a fan with nothing left is told before the model runs.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC

from clonr.access import ApiKey, Fan
from clonr.access.actors import Actor
from clonr.billing.payments import AUDIENCES, MICROS, Payments, money
from clonr.clones import CloneService
from clonr.clones.acting import ActsFor
from clonr.errors import InvalidInputError, NotFoundError, PaymentRequiredError
from clonr.store import SUBSCRIBED, AccountRecord, Bill, Clone, PackRecord, PriceRecord, SqlStore


def parse_money(text: str) -> int:
    """'0.02', '$0.02' or '2c' as millionths of the currency."""
    cleaned = text.strip().lstrip("$€£").strip()
    try:
        value = float(cleaned[:-1]) / 100 if cleaned.endswith("c") else float(cleaned)
    except ValueError:
        raise InvalidInputError(f"{text!r} is not an amount: write it like 0.02 (or 2c).") from None
    if not 0 <= value <= 1000:
        raise InvalidInputError(f"{text!r} is out of range: an amount is between 0 and 1000.")
    return round(value * MICROS)


@dataclass(frozen=True)
class Offer:
    """Something a payer past their free messages can buy: a pack (`id` is the pack's) or the metered
    subscription (`id` is "subscription")."""

    id: str
    label: str


@dataclass(frozen=True)
class Standing:
    """Where a payer stands with a clone this month."""

    audience: str
    free_messages: int | None  # a month; None: unlimited
    free_left: int | None
    pack_balance: int
    subscribed: bool
    price_micros: int
    currency: str
    offers: tuple[Offer, ...]

    def summary(self) -> str:
        """One line for the fan: what is left and how the next message is paid."""
        if self.free_messages is None:
            return "Messages are free."
        parts = [f"{self.free_left} of {self.free_messages} free messages left this month"]
        if self.pack_balance:
            parts.append(f"{self.pack_balance} bought messages left")
        if self.subscribed:
            parts.append(f"then {money(self.price_micros, self.currency)} a message")
        return " · ".join(parts) + "."


class Pricing:
    """The fan side: who pays for a turn, whether it may start, and where the payer stands. Its callers
    (`FanService`) have checked the actor."""

    def __init__(self, store: SqlStore, currency: str) -> None:
        self._store = store
        self._currency = currency

    def bill_for(self, actor: Actor, clone: Clone, fan_id: str) -> Bill | None:
        """Who pays for a reply to `actor`: a fan pays for themselves, an API key's owner for their end users;
        a creator or the system pays nothing."""
        if isinstance(actor, ApiKey):
            return Bill("api", f"owner:{actor.owner_id}")
        if not isinstance(actor, Fan):
            return None
        record = self._store.get_fan(clone.id, fan_id)
        subject = record.subject if record else None
        audience = "anonymous" if subject is None else "discord" if subject.startswith("discord:") else "signed_in"
        return Bill(audience, fan_id)

    def admit(self, clone: Clone, bill: Bill | None) -> None:
        """`PaymentRequiredError` (with what can be bought) when nothing would pay for the next reply."""
        if bill is None:
            return
        price, account = self._store.billing_state(clone.id, bill.payer, bill.audience)
        standing = self._standing(clone, bill, price, account, offers=False)
        if standing.free_messages is None or standing.free_left or standing.pack_balance or (
                standing.subscribed and standing.price_micros):
            return
        standing = self._standing(clone, bill, price, account, offers=True)  # what to buy: read only when refused
        if bill.audience == "api":
            raise PaymentRequiredError(
                f"The {_messages(standing.free_messages)} free a month for API keys with {clone.name} are used: "
                "subscribe to "
                f"metered messages in the studio's Monetise page or with `clonr billing subscribe {clone.slug}`.",
                standing.offers)
        used = (f"You have used your {_messages(standing.free_messages)} free with {clone.name} this month"
                if standing.free_messages else f"Messages with {clone.name} are paid")
        then = ": buy messages to keep talking." if standing.offers else ": come back next month."
        raise PaymentRequiredError(used + then, standing.offers)

    def standing(self, clone: Clone, bill: Bill) -> Standing:
        price, account = self._store.billing_state(clone.id, bill.payer, bill.audience)
        return self._standing(clone, bill, price, account, offers=True)

    def _standing(self, clone: Clone, bill: Bill, price: PriceRecord | None, account: AccountRecord | None,
                  offers: bool) -> Standing:
        free = price.free_messages if price else None
        used = account.free_used if account else 0
        subscribed = bool(account and account.subscription_status in SUBSCRIBED)
        micros = price.price_micros if price else 0
        return Standing(bill.audience, free, None if free is None else max(0, free - used),
                        account.pack_balance if account else 0, subscribed, micros, self._currency,
                        self._offers(clone, bill, price, subscribed) if offers else ())

    def _offers(self, clone: Clone, bill: Bill, price: PriceRecord | None, subscribed: bool) -> tuple[Offer, ...]:
        if price is None or price.free_messages is None:
            return ()
        packs = [] if bill.audience == "api" else [
            Offer(p.id, f"{p.messages} messages for {money(p.amount_cents * 10_000, self._currency)}")
            for p in self._store.packs_of(clone.id)]
        metered = [Offer("subscription", f"Pay as you go: {money(price.price_micros, self._currency)} a message, "
                                         "billed monthly")] if price.price_micros and not subscribed else []
        return tuple(packs + metered)


def _messages(count: int) -> str:
    return f"{count} message" if count == 1 else f"{count} messages"


@dataclass(frozen=True)
class Report:
    """What a clone earned and who used it, for its creator."""

    currency: str
    revenue_by_month: dict[str, int]  # YYYY-MM -> micros (packs sold and metered messages)
    paying_fans: int
    messages_by_fan: dict[str, int]  # the busiest 20, most first
    messages_by_hour: list[int]  # 24 counts, UTC
    charges: dict[str, int]  # free, pack, metered, unpaid -> replies
    median_messages_per_fan: float


class BillingService(ActsFor):
    """The creator's side: prices, packs, the metered subscription for their API keys, and the report."""

    def __init__(self, store: SqlStore, clones: CloneService, payments: Payments, currency: str) -> None:
        self._store = store
        self._clones = clones
        self._payments = payments
        self._currency = currency

    def set_price(self, clone_ref: str, audience: str, free_messages: int | None, price_micros: int) -> PriceRecord:
        """Price messages for one audience: `free_messages` a month (None: unlimited; 0: none), then
        `price_micros` each for subscribers (0: only packs)."""
        clone = self._owned(clone_ref)
        if audience not in AUDIENCES:
            raise InvalidInputError(f"{audience!r} is not an audience: choose one of {', '.join(AUDIENCES)}.")
        if free_messages is not None and not 0 <= free_messages <= 10_000_000:
            raise InvalidInputError("Free messages a month must be between 0 and 10,000,000 (or unlimited).")
        if not 0 <= price_micros <= 1000 * MICROS:
            raise InvalidInputError("A message's price must be between 0 and 1000.")
        return self._store.set_price(clone.id, audience, free_messages, price_micros)

    def make_free(self, clone_ref: str, audience: str) -> None:
        """Messages become free and unlimited again for the audience."""
        self._store.clear_price(self._owned(clone_ref).id, audience)

    def prices(self, clone_ref: str) -> dict[str, PriceRecord]:
        return self._store.prices_of(self._owned(clone_ref).id)

    def add_pack(self, clone_ref: str, messages: int, amount_cents: int) -> PackRecord:
        clone = self._owned(clone_ref)
        if not 1 <= messages <= 1_000_000:
            raise InvalidInputError("A pack holds between 1 and 1,000,000 messages.")
        if not 50 <= amount_cents <= 99_999_999:
            raise InvalidInputError("A pack costs at least 0.50 (Stripe's smallest charge).")
        return self._store.add_pack(clone.id, messages, amount_cents)

    def packs(self, clone_ref: str) -> list[PackRecord]:
        return self._store.packs_of(self._owned(clone_ref).id)

    def remove_pack(self, clone_ref: str, pack_id: str) -> None:
        """Stop selling a pack (messages already bought stay)."""
        if not self._store.delete_pack(self._owned(clone_ref).id, pack_id):
            raise NotFoundError(f"No pack {pack_id!r} for this clone: list them with `clonr billing packs`.")

    def subscribe(self, clone_ref: str, return_url: str) -> str:
        """The Checkout page where the clone's owner subscribes to metered API messages (past the API audience's
        free allowance, their keys' messages are billed to them)."""
        clone = self._owned(clone_ref)
        return self._payments.checkout(clone, Bill("api", f"owner:{clone.owner_id}"), "subscription", return_url)

    def report(self, clone_ref: str) -> Report:
        clone = self._owned(clone_ref)
        rows = [r for r in self._store.usage_rows(clone_id=clone.id) if r["charge"] is not None]
        accounts = self._store.accounts_of([clone.id])
        grants = self._store.grants_of([a.id for a in accounts])
        revenue: dict[str, int] = defaultdict(int)
        for grant in grants:
            revenue[grant["created_at"].strftime("%Y-%m")] += grant["amount_cents"] * 10_000
        for row in rows:
            revenue[row["created_at"].strftime("%Y-%m")] += row["price_micros"] if row["charge"] == "metered" else 0
        bought = {g["account_id"] for g in grants}
        paying = sum(1 for a in accounts if a.id in bought or a.subscription_status in SUBSCRIBED)
        by_fan = Counter(r["fan_id"] for r in rows)
        hours = Counter(r["created_at"].astimezone(UTC).hour for r in rows)
        return Report(self._currency, dict(sorted(revenue.items())), paying, dict(by_fan.most_common(20)),
                      [hours[h] for h in range(24)], dict(Counter(r["charge"] for r in rows)),
                      statistics.median(by_fan.values()) if by_fan else 0.0)
