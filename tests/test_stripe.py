"""Billing against Stripe offline: localstripe (customers, cards, subscriptions, invoices, and the webhooks it
signs and sends itself) behind a local fake of what it lacks (Prices, Checkout, Billing Meters), see
tests/stripe_local.py. A fan pays through Checkout and keeps chatting; webhooks are verified, handled once and
read back from Stripe; metered messages reach the meter once, whatever crashes or races."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from langchain_core.embeddings import DeterministicFakeEmbedding

from clonr import Clonr
from clonr.api import create_api
from clonr.billing import Meter
from clonr.config import load_settings
from clonr.errors import PaymentRequiredError
from clonr.store.schema import billing_outbox
from tests.conftest import FakeChatModel
from tests.stripe_local import SECRET_KEY, WEBHOOK_SECRET, LocalStripe, local_stripe, signed_event
from tests.test_widget import serve


@pytest.fixture(scope="module")
def stripe_server() -> Iterator[LocalStripe]:
    with local_stripe() as server:
        yield server


@pytest.fixture
def paid(stripe_server: LocalStripe, monkeypatch: pytest.MonkeyPatch, fake_chat: FakeChatModel) -> Iterator[Clonr]:
    """The app with Stripe set up (at the local one) and its meter sending nothing by itself."""
    for name, value in {"STRIPE_SECRET_KEY": SECRET_KEY, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                        "STRIPE_API_BASE": stripe_server.api_base, "CLONR_METER_SEND_SECONDS": "0"}.items():
        monkeypatch.setenv(name, value)
    app = Clonr(load_settings(), chat_model=fake_chat, embeddings=DeterministicFakeEmbedding(size=32))
    yield app
    app.worker.drain()


@pytest.fixture
def ada(paid: Clonr):
    return paid.clones.publish(paid.clones.create("Ada Lovelace").id)


def say(app: Clonr, fan, text: str = "Hi") -> str:
    return "".join(app.fans.turn(fan, fan.clone_id, fan.fan_id, text))


def deliver(app: Clonr, payload: bytes, signature: str):
    with TestClient(create_api(app)) as client:
        return client.post("/webhooks/stripe", content=payload, headers={"Stripe-Signature": signature,
                                                                         "Content-Type": "application/json"})


def session_of(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


def subscribe(app: Clonr, stripe_server: LocalStripe, ada, fan) -> str:
    """The fan subscribes to metered messages through Checkout; the subscription's id."""
    url = app.fans.checkout(fan, ada.id, fan.fan_id, "subscription", "https://fan.example/chat")
    session = stripe_server.pay(session_of(url))
    answer = deliver(app, *signed_event("checkout.session.completed", session))
    assert answer.json() == {"received": True, "outcome": "handled"}
    return session["subscription"]


def test_a_fan_uses_the_free_messages_buys_a_pack_and_keeps_chatting(paid: Clonr, ada, stripe_server: LocalStripe,
                                                                    fake_chat: FakeChatModel) -> None:
    paid.billing.set_price(ada.id, "anonymous", 2, 0)
    pack = paid.billing.add_pack(ada.id, 5, 199)
    fan = paid.fans.visit(ada.id, None).fan
    fake_chat.enqueue("One.", "Two.")
    say(paid, fan), say(paid, fan)
    with pytest.raises(PaymentRequiredError) as refused:
        say(paid, fan)
    assert [(o.id, o.label) for o in refused.value.offers] == [(pack.id, "5 messages for $1.99")]
    url = paid.fans.checkout(fan, ada.id, fan.fan_id, pack.id, "https://fan.example/chat?x=1")
    session = stripe_server.parts.sessions[session_of(url)]
    assert (session["mode"], session["amount_total"], session["success_url"]) == (
        "payment", 199, "https://fan.example/chat?x=1&paid=1")
    assert deliver(paid, *signed_event("checkout.session.completed", session)).json()["outcome"] == "ignored"
    assert paid.fans.standing(fan, ada.id, fan.fan_id).pack_balance == 0  # not paid yet: nothing granted
    stripe_server.pay(session["id"])
    event = signed_event("checkout.session.completed", session, event_id="evt_paid")
    assert deliver(paid, *event).json()["outcome"] == "handled"
    assert deliver(paid, *event).json()["outcome"] == "duplicate"  # delivered twice: granted once
    standing = paid.fans.standing(fan, ada.id, fan.fan_id)
    assert (standing.free_left, standing.pack_balance) == (0, 5)
    assert "5 bought messages left" in standing.summary()
    fake_chat.enqueue("Three.")
    assert say(paid, fan) == "Three."
    assert [r["charge"] for r in paid.store.usage_rows()] == ["free", "free", "pack"]
    assert paid.billing.report(ada.id).revenue_by_month == {datetime.now(UTC).strftime("%Y-%m"): 1_990_000}


def test_forged_altered_and_replayed_webhooks_change_nothing(paid: Clonr, ada, stripe_server: LocalStripe,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    paid.billing.set_price(ada.id, "anonymous", 0, 0)
    pack = paid.billing.add_pack(ada.id, 5, 199)
    fan = paid.fans.visit(ada.id, None).fan
    session = stripe_server.pay(session_of(paid.fans.checkout(fan, ada.id, fan.fan_id, pack.id, "https://f.example/")))
    forged = signed_event("checkout.session.completed", session, secret="whsec_someone_else")
    payload, signature = signed_event("checkout.session.completed", session)
    altered = payload.replace(b'"paid"', b'"paid" ', 1), signature
    replayed = signed_event("checkout.session.completed", session, at=int(time.time()) - 3600)
    unsigned = payload, ""
    for attempt in (forged, altered, replayed, unsigned):
        answer = deliver(paid, *attempt)
        assert answer.status_code == 400 and "nothing was changed" in answer.json()["error"]
    assert paid.fans.standing(fan, ada.id, fan.fan_id).pack_balance == 0
    assert caplog.text.count("Refused a Stripe webhook") == 4
    assert deliver(paid, b"not json", signed_event("x", {})[1]).status_code == 400


def test_a_subscription_meters_messages_and_ends_when_stripe_says_so(paid: Clonr, ada, stripe_server: LocalStripe,
                                                                     fake_chat: FakeChatModel) -> None:
    """localstripe sends its own signed webhooks (subscription created and deleted) to the running server."""
    paid.billing.set_price(ada.id, "anonymous", 1, 20_000)
    fan = paid.fans.visit(ada.id, None).fan
    fake_chat.enqueue("Free.", "Metered.", "Metered again.")
    say(paid, fan)
    with serve(paid) as url:
        stripe_server.register_webhook(f"{url}/webhooks/stripe")
        subscription = subscribe(paid, stripe_server, ada, fan)
        assert paid.fans.standing(fan, ada.id, fan.fan_id).subscribed
        say(paid, fan), say(paid, fan)
        assert [r["charge"] for r in paid.store.usage_rows()] == ["free", "metered", "metered"]
        assert paid.meter.send_due().sent == 2
        assert paid.meter.reconcile().clean
        stripe_server.cancel_subscription(subscription)
        deadline = time.monotonic() + 20
        while paid.fans.standing(fan, ada.id, fan.fan_id).subscribed:  # localstripe's webhook, a second later
            assert time.monotonic() < deadline, "localstripe's subscription.deleted webhook never arrived"
            time.sleep(0.2)
    with pytest.raises(PaymentRequiredError, match="buy messages"):
        say(paid, fan)
    (account,) = paid.store.accounts_of([ada.id])
    assert account.subscription_status == "canceled"


def test_webhooks_out_of_order_leave_the_account_as_stripe_has_it(paid: Clonr, ada, stripe_server: LocalStripe) -> None:
    paid.billing.set_price(ada.id, "anonymous", 0, 20_000)
    fan = paid.fans.visit(ada.id, None).fan
    subscription = subscribe(paid, stripe_server, ada, fan)
    stale = {"id": subscription, "object": "subscription", "status": "canceled"}  # what an old event said
    assert deliver(paid, *signed_event("customer.subscription.deleted", stale)).json()["outcome"] == "handled"
    assert paid.fans.standing(fan, ada.id, fan.fan_id).subscribed  # Stripe says it is active: it stays so
    stripe_server.cancel_subscription(subscription)
    late_update = {"id": subscription, "object": "subscription", "status": "active"}
    deliver(paid, *signed_event("customer.subscription.updated", late_update))
    assert not paid.fans.standing(fan, ada.id, fan.fan_id).subscribed


def metered_replies(app: Clonr, stripe_server: LocalStripe, ada, fake_chat: FakeChatModel, count: int) -> None:
    app.billing.set_price(ada.id, "anonymous", 0, 20_000)
    fan = app.fans.visit(ada.id, None).fan
    subscribe(app, stripe_server, ada, fan)
    fake_chat.enqueue(*["Metered."] * count)
    for _ in range(count):
        say(app, fan)


def test_a_crash_before_the_meter_event_is_made_good_once_by_reconcile(paid: Clonr, ada, stripe_server: LocalStripe,
                                                                      fake_chat: FakeChatModel) -> None:
    metered_replies(paid, stripe_server, ada, fake_chat, 3)
    # The process died after storing the replies: nothing was sent. Another one, later, reconciles.
    with paid.store.engine.begin() as connection:
        connection.execute(billing_outbox.update().values(created_at=datetime.now(UTC) - timedelta(minutes=30)))
    requests_before = stripe_server.parts.meter_event_requests
    found = Meter(paid.store, paid.payments).reconcile()
    assert (found.late, found.clean) == (3, False)
    assert sum(found.differences.values(), ()) == (3, 0)
    # One event reached Stripe but its process died before marking it sent: it is sent again, counted once.
    (first, *_) = paid.store.outbox(unsent=True)
    paid.payments.gateway.send_meter_event(first.customer_id, first.identifier, first.created_at)
    repaired = Meter(paid.store, paid.payments).reconcile(repair=True)
    assert repaired.repaired == 3 and repaired.differences == {}
    assert stripe_server.parts.meter_event_requests - requests_before == 4  # the one sent twice
    assert len([e for e in stripe_server.parts.meter_events.values()
                if e["payload"]["stripe_customer_id"] == first.customer_id]) == 3
    assert Meter(paid.store, paid.payments).reconcile().clean


def test_two_senders_at_once_send_each_event_once(paid: Clonr, ada, stripe_server: LocalStripe,
                                                  fake_chat: FakeChatModel) -> None:
    metered_replies(paid, stripe_server, ada, fake_chat, 12)
    before = stripe_server.parts.meter_event_requests
    senders = [Meter(paid.store, paid.payments) for _ in range(2)]
    results = []
    threads = [threading.Thread(target=lambda m=m: results.append(m.send_due(limit=100))) for m in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(r.sent for r in results) == 12 and stripe_server.parts.meter_event_requests - before == 12
    assert paid.store.outbox(unsent=True) == []


def test_stripe_down_delays_a_meter_event_and_it_is_retried(paid: Clonr, ada, stripe_server: LocalStripe,
                                                            fake_chat: FakeChatModel) -> None:
    metered_replies(paid, stripe_server, ada, fake_chat, 1)
    stripe_server.parts.fail_meter_events = 3  # the SDK retries twice, then gives up
    assert paid.meter.send_due().failed == 1
    assert paid.meter.send_due().sent == 0  # not due yet: it waits before the next attempt
    with paid.store.engine.begin() as connection:
        row = connection.execute(sa.select(billing_outbox)).mappings().one()
    assert row["attempts"] == 1 and "try again later" in row["last_error"]
    assert paid.meter.send_due(everything=True).sent == 1


def test_the_api_answers_402_past_the_free_messages_and_says_what_is_left(paid: Clonr, ada, stripe_server: LocalStripe,
                                                                          fake_chat: FakeChatModel) -> None:
    import openai

    from clonr.access import LOCAL_CREATOR

    paid.billing.set_price(ada.id, "api", 1, 20_000)
    secret = paid.keys.create(LOCAL_CREATOR, "app").secret
    with serve(paid) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=secret, max_retries=0)
        client.chat.completions.create(model=ada.slug, user="1", messages=[{"role": "user", "content": "Hi"}])
        with pytest.raises(openai.APIStatusError) as refused:
            client.chat.completions.create(model=ada.slug, user="2", messages=[{"role": "user", "content": "Hi"}])
        billing = client.get(f"/clones/{ada.slug}/billing", cast_to=object)
    assert refused.value.status_code == 402 and refused.value.code == "insufficient_quota"
    assert "clonr billing subscribe" in refused.value.message
    assert billing == {"audience": "api", "free_messages": 1, "free_left": 0, "subscribed": False,
                       "price_per_message": "$0.02", "summary": "0 of 1 free messages left this month."}
    session = stripe_server.parts.sessions[session_of(paid.billing.subscribe(ada.id, "https://studio.example/"))]
    assert (session["mode"], session["metadata"]["audience"]) == ("subscription", "api")  # the key owner subscribes
    (account,) = paid.store.accounts_of([ada.id])
    assert (account.payer, session["customer"]) == ("owner:local", account.customer_id)


def test_the_cli_prices_a_clone_sends_the_outbox_and_reconciles(paid: Clonr, ada, stripe_server: LocalStripe,
                                                                fake_chat: FakeChatModel) -> None:
    from click.testing import CliRunner

    from clonr.cli import LazyApp, cli

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args), obj=LazyApp(paid))
        return result.exit_code, result.output

    assert run("billing", "price", ada.slug, "--audience", "anonymous", "--free", "0", "--per-message", "0.02") == (
        0, "Anonymous widget visitors: 0 free messages a month, then $0.02 each.\n")
    assert run("billing", "add-pack", ada.slug, "--messages", "100", "--price", "4.99")[0] == 0
    code, shown = run("billing", "show", ada.slug)
    assert "anonymous widget visitors  0 free a month, then $0.02 a message" in shown
    assert "100 messages for $4.99" in shown and "API keys                   free, unlimited" in shown
    assert run("billing", "price", ada.slug, "--audience", "api", "--free", "lots") == (
        1, "Error: --free 'lots': give a number of messages a month, or `unlimited`.\n")
    fan = paid.fans.visit(ada.id, None).fan
    subscribe(paid, stripe_server, ada, fan)
    fake_chat.enqueue("Metered.", "Metered.")
    say(paid, fan), say(paid, fan)
    code, shown = run("billing", "reconcile")
    assert code == 1 and "2 in the ledger, 0 counted by Stripe" in shown
    code, shown = run("billing", "send")
    assert code == 0 and "2 sent, 0 to retry later." in shown
    assert run("billing", "reconcile") == (0, "metered replies without an outbox row: 0\n"
                                              "meter events unsent for over 10 minutes: 0\nNothing to repair.\n")
    code, shown = run("billing", "report", ada.slug)
    assert "revenue " in shown and "$0.04" in shown and "paying fans        1" in shown
