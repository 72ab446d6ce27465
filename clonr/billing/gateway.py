"""Stripe, through its official SDK: the one module that calls it (the port the billing services use).

Everything Clonr asks of Stripe: customers, Checkout sessions (message packs, metered subscriptions), the
metered Price of a clone's audience, Billing Meter events and their summaries, and reading back the current
state of a session, subscription or invoice that a webhook names.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import stripe

from clonr.config import Settings
from clonr.errors import PaymentError

log = logging.getLogger(__name__)

__all__ = ["StripeGateway"]


class StripeGateway:
    def __init__(self, settings: Settings) -> None:
        if not settings.stripe_secret_key:
            raise PaymentError("Payments are not set up on this server: set STRIPE_SECRET_KEY (and "
                               "STRIPE_WEBHOOK_SECRET) to sell messages.")
        addresses = {"api": settings.stripe_api_base} if settings.stripe_api_base else {}
        self._client = stripe.StripeClient(settings.stripe_secret_key, base_addresses=addresses,  # type: ignore[arg-type]
                                           max_network_retries=2)
        self._currency = settings.currency
        self._event_name = settings.stripe_meter_event
        self._meter_id: str | None = None

    def customer(self, description: str, metadata: dict[str, str]) -> str:
        return self._call(lambda: self._client.v1.customers.create(
            params={"description": description[:300], "metadata": metadata})).id

    def pack_checkout(self, customer: str, name: str, amount_cents: int, urls: tuple[str, str],
                      metadata: dict[str, str]) -> tuple[str, str]:
        """A Checkout session selling one pack: (session id, the page to send the buyer to)."""
        session = self._call(lambda: self._client.v1.checkout.sessions.create(params={
            "mode": "payment", "customer": customer, "success_url": urls[0], "cancel_url": urls[1],
            "client_reference_id": metadata["account"], "metadata": metadata,
            "line_items": [{"quantity": 1, "price_data": {"currency": self._currency, "unit_amount": amount_cents,
                                                          "product_data": {"name": name[:250]}}}]}))
        return session.id, session.url

    def subscription_checkout(self, customer: str, price_id: str, urls: tuple[str, str],
                              metadata: dict[str, str]) -> tuple[str, str]:
        """A Checkout session starting a metered subscription: (session id, the page)."""
        session = self._call(lambda: self._client.v1.checkout.sessions.create(params={
            "mode": "subscription", "customer": customer, "success_url": urls[0], "cancel_url": urls[1],
            "client_reference_id": metadata["account"], "metadata": metadata,
            "subscription_data": {"metadata": metadata}, "line_items": [{"price": price_id}]}))
        return session.id, session.url

    def metered_price(self, name: str, price_micros: int) -> str:
        """A monthly Price billed per message counted by the meter, at `price_micros` a message."""
        cents = f"{price_micros / 10_000:.4f}".rstrip("0").rstrip(".")
        return self._call(lambda: self._client.v1.prices.create(params={
            "currency": self._currency, "unit_amount_decimal": cents, "product_data": {"name": name[:250]},
            "recurring": {"interval": "month", "usage_type": "metered", "meter": self.meter_id()}})).id

    def meter_id(self) -> str:
        """The Billing Meter counting messages (`STRIPE_METER_EVENT`), made on first use."""
        if self._meter_id is None:
            found = [m for m in self._call(lambda: self._client.v1.billing.meters.list(params={"limit": 100})).data
                     if m.event_name == self._event_name and m.status == "active"]
            self._meter_id = found[0].id if found else self._call(lambda: self._client.v1.billing.meters.create(
                params={"display_name": "Clonr messages", "event_name": self._event_name,
                        "default_aggregation": {"formula": "sum"}})).id
        return self._meter_id

    def send_meter_event(self, customer: str, identifier: str, when: datetime) -> None:
        """One metered message. The identifier (also the request's idempotency key) makes Stripe count it once
        however often it is sent."""
        self._call(lambda: self._client.v1.billing.meter_events.create(
            params={"event_name": self._event_name, "identifier": identifier, "timestamp": int(when.timestamp()),
                    "payload": {"stripe_customer_id": customer, "value": "1"}},
            options={"idempotency_key": identifier}))

    def metered_total(self, customer: str, start: datetime, end: datetime) -> int:
        """Messages Stripe's meter counted for the customer between `start` and `end` (whole minutes)."""
        summaries = self._call(lambda: self._client.v1.billing.meters.event_summaries.list(
            self.meter_id(), params={"customer": customer, "start_time": int(start.timestamp()) // 60 * 60,
                                     "end_time": -(-int(end.timestamp()) // 60) * 60, "limit": 100}))
        return int(sum(s.aggregated_value for s in summaries.data))

    def event(self, payload: bytes, signature: str, secret: str) -> stripe.Event:
        """The webhook event, if its signature is the endpoint's and recent (`stripe.SignatureVerificationError`
        or `ValueError` otherwise)."""
        return stripe.Webhook.construct_event(payload, signature, secret)

    def checkout_session(self, session_id: str) -> Any:
        return self._call(lambda: self._client.v1.checkout.sessions.retrieve(session_id))

    def subscription(self, subscription_id: str) -> Any:
        return self._call(lambda: self._client.v1.subscriptions.retrieve(subscription_id))

    def invoice(self, invoice_id: str) -> Any:
        return self._call(lambda: self._client.v1.invoices.retrieve(invoice_id))

    @staticmethod
    def _call(request: Any) -> Any:
        try:
            return request()
        except stripe.StripeError as exc:
            message = exc.user_message or type(exc).__name__
            log.warning("Stripe refused a request: %s (request id %s)", message, exc.request_id)
            raise PaymentError(f"The payment provider refused the request ({message}): try again later.") from None
