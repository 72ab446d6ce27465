"""Metered messages reach Stripe from the outbox: sent in the background, retried with backoff, reconciled.

Each metered reply left an outbox row in the transaction that stored it. A sender claims due rows (two
senders never claim the same one), sends each as a Billing Meter event whose identifier is the reply's, and
marks it sent. A process that dies between Stripe's answer and the mark leaves the row to be sent again,
which Stripe drops by its identifier: a charge can be late, never doubled or lost.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from clonr.billing.payments import Payments
from clonr.errors import PaymentError
from clonr.store import SqlStore

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # a claimed row another sender may take once its claimer is this late
LONGEST_WAIT = timedelta(hours=1)  # between two attempts at a row Stripe keeps refusing
LATE = timedelta(minutes=10)  # an unsent row this old is reported by reconcile


@dataclass(frozen=True)
class Sent:
    sent: int
    failed: int


@dataclass
class Reconciliation:
    """What reconcile found (and, with repair, fixed)."""

    missing_outbox: int = 0  # metered ledger rows without an outbox row
    late: int = 0  # outbox rows unsent for over 10 minutes
    differences: dict[str, tuple[int, int]] = field(default_factory=dict)  # customer -> (ledger, Stripe)
    repaired: int = 0

    @property
    def clean(self) -> bool:
        return not (self.missing_outbox or self.late or self.differences)


class Meter:
    def __init__(self, store: SqlStore, payments: Payments) -> None:
        self._store = store
        self._payments = payments
        self._name = f"{socket.gethostname()}:{os.getpid()}"

    def send_due(self, limit: int = 100, everything: bool = False) -> Sent:
        """Send the outbox rows that are due (`everything`: every unsent row, even one waiting to be retried or
        claimed by a sender that may have died), each claimed for this process first."""
        now = datetime.now(UTC)
        due_by = now + LONGEST_WAIT + LEASE if everything else now
        sent = failed = 0
        for event in self._store.claim_outbox(self._name, due_by, now + LEASE, limit):
            try:
                self._payments.gateway.send_meter_event(event.customer_id, event.identifier, event.created_at)
            except PaymentError as exc:
                wait = min(LONGEST_WAIT, timedelta(seconds=5 * 2 ** min(event.attempts, 12)))
                self._store.outbox_failed(event.id, str(exc), now + wait)
                failed += 1
                continue
            self._store.outbox_sent(event.id)
            sent += 1
        if sent or failed:
            log.info("Sent %d metered messages to Stripe (%d to retry)", sent, failed)
        return Sent(sent, failed)

    def pending(self) -> int:
        """Meter events not sent yet."""
        return len(self._store.outbox(unsent=True))

    def reconcile(self, repair: bool = False, since: datetime | None = None) -> Reconciliation:
        """Compare the ledger, the outbox and Stripe's meter (this month unless `since`); with `repair`, first
        write missing outbox rows and send every unsent event now, then compare. Stripe counting more than the
        ledger is reported only: it needs a person to look (a refund or a meter event adjustment)."""
        now = datetime.now(UTC)
        since = since or now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        found = Reconciliation()
        if repair:
            for row in self._store.metered_without_outbox():
                account = self._store.account_by_payer(row["clone_id"], _payer(row))
                if account is not None and account.customer_id:
                    self._store.restore_outbox(row["id"], account.customer_id)
                    found.repaired += 1
            found.repaired += self.send_due(limit=10_000, everything=True).sent
        found.missing_outbox = len(self._store.metered_without_outbox())
        found.late = sum(1 for e in self._store.outbox(unsent=True) if e.created_at < now - LATE)
        ledger = Counter(e.customer_id for e in self._store.outbox(since=since))
        for customer, count in sorted(ledger.items()):
            counted = self._payments.gateway.metered_total(customer, since, now + timedelta(minutes=1))
            if counted != count:
                found.differences[customer] = (count, counted)
        return found

    def run(self, stop: threading.Event, every: float) -> None:
        """Send due rows every `every` seconds until `stop` is set (a server's background thread)."""
        while not stop.wait(every):
            try:
                self.send_due()
            except Exception:  # a database hiccup must not end the sender; the next round retries
                log.exception("Sending metered messages failed; retrying in %s s", every)


def _payer(row: dict[str, object]) -> str:
    return f"owner:{row['owner_id']}" if row["audience"] == "api" else str(row["fan_id"])
