"""Payments: Checkout for packs and metered subscriptions, and Stripe's webhooks.

A webhook is trusted only with the endpoint's signature, handled once (by event id), and never trusted for
state: the session, subscription or invoice it names is read back from Stripe, so events arriving late, twice
or out of order leave the account as Stripe says it is now.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import stripe

from clonr.billing.gateway import StripeGateway
from clonr.config import Settings
from clonr.errors import InvalidInputError, NotFoundError, PaymentError
from clonr.store import Bill, Clone, Grant, SqlStore, SubscriptionState

log = logging.getLogger(__name__)

AUDIENCES = {"anonymous": "anonymous widget visitors", "signed_in": "signed-in fans", "discord": "Discord users",
             "api": "API keys"}
MICROS = 1_000_000
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}


def money(micros: int, currency: str) -> str:
    """An amount in millionths of the currency, as a person reads it: $0.02, $0.005, €4.99, 12.50 CHF."""
    text = f"{micros / MICROS:.6f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    text = f"{whole}.{fraction.ljust(2, '0')}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency.upper()}"

CHECKOUT_EVENTS = frozenset({"checkout.session.completed", "checkout.session.async_payment_succeeded"})
INVOICE_EVENTS = frozenset({"invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed"})
SUBSCRIPTION_EVENTS = frozenset({"customer.subscription.created", "customer.subscription.updated",
                                 "customer.subscription.deleted"})


class WebhookRefusedError(PaymentError):
    """A webhook without a valid, recent signature of the endpoint: forged, altered or replayed late."""


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    type: str
    outcome: str  # handled, duplicate, ignored


class Payments:
    def __init__(self, store: SqlStore, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self._gateway: StripeGateway | None = None
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self._settings.stripe_secret_key)

    @property
    def gateway(self) -> StripeGateway:
        with self._lock:
            if self._gateway is None:
                self._gateway = StripeGateway(self._settings)
            return self._gateway

    # -- Checkout -------------------------------------------------------------------------------

    def checkout(self, clone: Clone, bill: Bill, offer: str, return_url: str) -> str:
        """The Stripe Checkout page where the payer buys `offer` (a pack id, or "subscription" for metered
        messages); they come back to `return_url`. The caller has checked the actor."""
        account = self._store.ensure_account(clone.id, bill.payer)
        customer = account.customer_id or self._store.set_customer(account.id, self.gateway.customer(
            f"{AUDIENCES[bill.audience]} of {clone.name}", {"clone_id": clone.id, "account": account.id}))
        urls = (_with_query(return_url, "paid=1"), _with_query(return_url, "paid=0"))
        metadata = {"account": account.id, "clone_id": clone.id, "audience": bill.audience}
        if offer == "subscription":
            price = self._store.prices_of(clone.id).get(bill.audience)
            if price is None or not price.price_micros:
                raise InvalidInputError(f"{clone.name} has no price per message for {AUDIENCES[bill.audience]}.")
            price_id = self._store.metered_price(clone.id, bill.audience, price.price_micros) or \
                self._store.keep_metered_price(clone.id, bill.audience, price.price_micros, self.gateway.metered_price(
                    f"Messages with {clone.name} ({money(price.price_micros, self._settings.currency)} each)",
                    price.price_micros))
            session_id, url = self.gateway.subscription_checkout(customer, price_id, urls, metadata)
        else:
            pack = next((p for p in self._store.packs_of(clone.id) if p.id == offer), None)
            if pack is None or bill.audience == "api":
                raise NotFoundError(f"{clone.name} sells no pack {offer!r}: choose one of the offers shown.")
            session_id, url = self.gateway.pack_checkout(
                customer, f"{pack.messages} messages with {clone.name}", pack.amount_cents, urls,
                {**metadata, "pack": pack.id, "messages": str(pack.messages)})
        log.info("Checkout session %s opened for account %s (%s)", session_id, account.id, offer)
        return url

    # -- webhooks -------------------------------------------------------------------------------

    def handle_webhook(self, payload: bytes, signature: str | None) -> WebhookResult:
        """Verify and apply one webhook delivery. `WebhookRefusedError` says why one is refused; a duplicate is
        acknowledged and changes nothing."""
        secret = self._settings.stripe_webhook_secret
        if not secret:
            raise PaymentError("Stripe webhooks are not set up on this server: set STRIPE_WEBHOOK_SECRET.")
        try:
            event = self.gateway.event(payload, signature or "", secret)
        except stripe.SignatureVerificationError as exc:
            log.warning("Refused a Stripe webhook: %s", exc.user_message or "bad signature")
            raise WebhookRefusedError("The webhook's signature is not valid for this endpoint (forged, altered or "
                                 "older than 5 minutes): nothing was changed.") from None
        except ValueError:
            log.warning("Refused a Stripe webhook: its body is not a Stripe event")
            raise WebhookRefusedError("The webhook's body is not a Stripe event: nothing was changed.") from None
        if self._store.event_handled(event.id):
            log.info("Stripe event %s (%s) was handled before: ignored", event.id, event.type)
            return WebhookResult(event.id, event.type, "duplicate")
        grant, subscription = self._changes(event.type, event.data.object)
        if not self._store.handle_event(event.id, event.type, grant, subscription):
            log.info("Stripe event %s (%s) was handled meanwhile: ignored", event.id, event.type)
            return WebhookResult(event.id, event.type, "duplicate")
        outcome = "handled" if grant or subscription else "ignored"
        log.info("Stripe event %s (%s): %s", event.id, event.type, outcome)
        return WebhookResult(event.id, event.type, outcome)

    def _changes(self, event_type: str, named: Any) -> tuple[Grant | None, SubscriptionState | None]:
        """What the event changes, from the objects as Stripe has them now."""
        if event_type in CHECKOUT_EVENTS:
            session = self.gateway.checkout_session(named.id)
            metadata = session.metadata.to_dict() if session.metadata else {}
            account = self._store.account_by_customer(_id(session.customer or ""))
            if account is None or account.id != metadata.get("account"):
                log.warning("Checkout session %s names no account of its customer: ignored", session.id)
                return None, None
            if session.mode == "subscription" and session.subscription:
                return None, self._subscription(_id(session.subscription))
            if session.mode == "payment" and session.payment_status == "paid":
                return Grant(session.id, account.id, int(metadata.get("messages", 0)), session.amount_total or 0,
                             session.currency or self._settings.currency), None
            return None, None
        if event_type in INVOICE_EVENTS:
            invoice = self.gateway.invoice(named.id)
            subscription_id = _invoice_subscription(invoice)
            return None, self._subscription(subscription_id) if subscription_id else None
        if event_type in SUBSCRIPTION_EVENTS:
            return None, self._subscription(named.id)
        return None, None

    def _subscription(self, subscription_id: str) -> SubscriptionState | None:
        subscription = self.gateway.subscription(subscription_id)
        account = self._store.account_by_customer(_id(subscription.customer))
        if account is None:
            log.warning("Subscription %s belongs to no Clonr account: ignored", subscription_id)
            return None
        if account.subscription_id not in (None, subscription.id) and subscription.status not in ("active", "trialing"):
            return None  # an old subscription ending does not end the one the payer has now
        return SubscriptionState(account.id, subscription.id, subscription.status)


def _id(value: Any) -> str:
    """An id, whether Stripe sent the object expanded or not."""
    return value if isinstance(value, str) else value["id"]


def _invoice_subscription(invoice: Any) -> str | None:
    """The subscription an invoice bills: `subscription` before API 2025-03-31, `parent.subscription_details`
    after."""
    data = invoice.to_dict()
    found = data.get("subscription") or ((data.get("parent") or {}).get("subscription_details") or {}
                                         ).get("subscription")
    return _id(found) if found else None


def _with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"
