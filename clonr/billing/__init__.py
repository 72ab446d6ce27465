"""Billing: the usage ledger read back, prices per audience, Stripe Checkout and webhooks, and the meter outbox.

`UsageService` reads the ledger; `BillingService` is the creator's side (prices, packs, the report);
`Pricing` decides who pays for a turn and whether it may start; `Payments` talks to Stripe (Checkout,
webhooks); `Meter` sends metered messages from the outbox and reconciles them with Stripe.
"""

from clonr.billing.meter import Meter, Reconciliation, Sent
from clonr.billing.payments import Payments, WebhookRefusedError, WebhookResult
from clonr.billing.pricing import AUDIENCES, BillingService, Offer, Pricing, Report, Standing, money, parse_money
from clonr.billing.usage import GROUPINGS, SPOKEN, UsageLine, UsageService

__all__ = ["AUDIENCES", "GROUPINGS", "SPOKEN", "BillingService", "Meter", "Offer", "Payments", "Pricing",
           "Reconciliation", "Report", "Sent", "Standing", "UsageLine", "UsageService", "WebhookRefusedError",
           "WebhookResult", "money", "parse_money"]
