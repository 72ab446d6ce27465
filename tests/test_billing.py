"""Charging per message, without Stripe: free allowances per audience to the message, bought packs, metered
replies with their outbox row in the reply's transaction, the month turning, and who pays on each surface.
(Stripe itself, through localstripe: tests/test_stripe.py.)"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from clonr import Clonr
from clonr.access import LOCAL_CREATOR, Creator
from clonr.billing import money, parse_money
from clonr.config import load_settings
from clonr.errors import ForbiddenError, InvalidInputError, PaymentRequiredError
from clonr.store import Grant, SubscriptionState
from clonr.store.schema import billing_accounts, billing_outbox
from tests.conftest import FakeChatModel


@pytest.fixture
def ada(app: Clonr):
    return app.clones.publish(app.clones.create("Ada Lovelace").id)


def say(app: Clonr, fan, text: str = "Hi") -> str:
    return "".join(app.fans.turn(fan, fan.clone_id, fan.fan_id, text))


def charges(app: Clonr) -> list[str | None]:
    return [row["charge"] for row in app.store.usage_rows()]


def test_the_nth_free_message_is_free_and_the_next_is_refused_before_the_model_runs(
        app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    app.billing.set_price(ada.id, "anonymous", 3, 0)
    app.billing.add_pack(ada.id, 100, 499)
    fan = app.fans.visit(ada.id, None).fan
    for n in range(3):
        fake_chat.enqueue(f"Reply {n}.")
        assert say(app, fan) == f"Reply {n}."
        assert app.fans.standing(fan, ada.id, fan.fan_id).free_left == 2 - n
    fake_chat.enqueue("Never said.")
    with pytest.raises(PaymentRequiredError, match="used your 3 messages free with Ada Lovelace this month") as refused:
        say(app, fan)
    assert [o.label for o in refused.value.offers] == ["100 messages for $4.99"]
    assert len(fake_chat.calls) == 3 and fake_chat.replies == ["Never said."]  # the model was not asked
    assert charges(app) == ["free", "free", "free"] and len(app.fans.history(fan, ada.id, fan.fan_id)) == 6


def test_bought_messages_are_used_after_the_free_ones_and_count_down(app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    app.billing.set_price(ada.id, "anonymous", 1, 0)
    fan = app.fans.visit(ada.id, None).fan
    account = app.store.ensure_account(ada.id, fan.fan_id)
    assert app.store.handle_event("evt_1", "checkout.session.completed", Grant("cs_1", account.id, 2, 199, "usd"))
    assert not app.store.handle_event("evt_1", "checkout.session.completed", Grant("cs_1", account.id, 2, 199, "usd"))
    assert app.store.handle_event("evt_2", "checkout.session.async_payment_succeeded",
                                  Grant("cs_1", account.id, 2, 199, "usd"))  # the same session, another event
    fake_chat.enqueue("One.", "Two.", "Three.")
    for _ in range(3):
        say(app, fan)
    assert charges(app) == ["free", "pack", "pack"]
    standing = app.fans.standing(fan, ada.id, fan.fan_id)
    assert (standing.free_left, standing.pack_balance) == (0, 0)
    with pytest.raises(PaymentRequiredError, match="come back next month"):  # no packs on sale, no price
        say(app, fan)


def test_a_metered_reply_writes_its_outbox_row_in_the_same_transaction(app: Clonr, ada,
                                                                       fake_chat: FakeChatModel) -> None:
    app.billing.set_price(ada.id, "anonymous", 0, parse_money("0.02"))
    fan = app.fans.visit(ada.id, None).fan
    with pytest.raises(PaymentRequiredError, match="Messages with Ada Lovelace are paid") as refused:
        say(app, fan)
    assert [o.id for o in refused.value.offers] == ["subscription"]
    assert "$0.02 a message" in refused.value.offers[0].label
    account = app.store.ensure_account(ada.id, fan.fan_id)
    app.store.set_customer(account.id, "cus_A")
    app.store.handle_event("evt_s", "customer.subscription.updated", subscription=SubscriptionState(
        account.id, "sub_A", "active"))
    fake_chat.enqueue("Metered.")
    say(app, fan)
    reply = app.fans.history(fan, ada.id, fan.fan_id)[-1]
    (row,) = app.store.usage_rows()
    assert (row["charge"], row["price_micros"], row["audience"]) == ("metered", 20_000, "anonymous")
    (event,) = app.store.outbox()
    assert (event.usage_id, event.customer_id, event.identifier, event.sent_at) == (
        row["id"], "cus_A", f"cus_A-msg-{reply.id}", None)

    with app.store.engine.begin() as connection:  # the next outbox insert fails: nothing of that reply stays
        connection.execute(sa.text("CREATE TRIGGER no_outbox BEFORE INSERT ON billing_outbox "
                                   "BEGIN SELECT RAISE(ABORT, 'disk full'); END"))
    fake_chat.enqueue("Lost.")
    with pytest.raises(Exception, match="disk full"):
        say(app, fan)
    assert len(app.store.usage_rows()) == 1 and len(app.fans.history(fan, ada.id, fan.fan_id)) == 2


def test_the_free_allowance_starts_again_each_month(app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    app.billing.set_price(ada.id, "anonymous", 1, 0)
    fan = app.fans.visit(ada.id, None).fan
    fake_chat.enqueue("Once.")
    say(app, fan)
    with pytest.raises(PaymentRequiredError):
        say(app, fan)
    with app.store.engine.begin() as connection:  # the month ends
        connection.execute(billing_accounts.update().values(period="2020-01"))
    fake_chat.enqueue("Again.")
    assert say(app, fan) == "Again."


def test_each_audience_has_its_own_price_and_creators_never_pay(app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    app.billing.set_price(ada.id, "anonymous", 0, 0)
    app.billing.set_price(ada.id, "api", 1, 0)
    fan = app.fans.visit(ada.id, None).fan
    with pytest.raises(PaymentRequiredError):
        say(app, fan)
    app.store.set_fan_subject(ada.id, fan.fan_id, "https://issuer|ada-fan")  # signed in: unpriced, so free
    fake_chat.enqueue("Signed in.", "Studio.", "API.")
    say(app, fan)
    "".join(app.chat.start_turn(ada.id, "Testing", fan_id="studio"))
    key = app.keys.authenticate(app.keys.create(LOCAL_CREATOR, "app").secret)
    users = [app.fans.end_user(key, ada.id, user).fan_id for user in ("1", "2")]
    "".join(app.fans.post(key, ada.id, users[0], "Hi", None))
    with pytest.raises(PaymentRequiredError, match=r"1 message free a month for API keys .*`clonr billing subscribe"):
        app.fans.post(key, ada.id, users[1], "Hi", None)  # another end user: the same owner pays
    assert [(r["audience"], r["charge"]) for r in app.store.usage_rows()] == [
        ("signed_in", "free"), (None, None), ("api", "free")]
    assert app.fans.standing(key, ada.id, users[0]).audience == "api"


def test_a_failed_reply_is_never_charged(app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    app.billing.set_price(ada.id, "anonymous", 1, 0)
    fan = app.fans.visit(ada.id, None).fan
    fake_chat.fail_with(ConnectionError("down"))
    with pytest.raises(Exception):  # noqa: B017 (the model's failure, told as a ModelError)
        say(app, fan)
    fake_chat.failure = None
    fake_chat.enqueue("Works now.")
    assert say(app, fan) == "Works now."
    assert [(r["status"], r["charge"]) for r in app.store.usage_rows()] == [("failed", None), ("complete", "free")]


def test_fans_racing_for_the_last_free_messages_get_exactly_the_allowance(database_url: str,
                                                                          fake_chat: FakeChatModel) -> None:
    settings = load_settings({"CLONR_HOME": load_settings().home.as_posix(), "DATABASE_URL": database_url,
                              "CLONR_REFLECTION_THRESHOLD": "0", "CLONR_KNOWLEDGE_UPDATES": "off",
                              "CLONR_FAN_MESSAGE_LIMIT": "1000/minute"})
    app = Clonr(settings, chat_model=fake_chat)
    clone = app.clones.publish(app.clones.create("Ada Lovelace").id)
    app.billing.set_price(clone.id, "anonymous", 5, 0)
    fan = app.fans.visit(clone.id, None).fan
    turns = [app.fans.turn(fan, clone.id, fan.fan_id, f"Message {n}") for n in range(5)]  # all admitted first
    fake_chat.enqueue(*[f"Reply {n}." for n in range(8)])
    late = [app.fans.turn(fan, clone.id, fan.fan_id, f"Late {n}") for n in range(3)]  # admitted: none used yet
    threads = [threading.Thread(target=lambda t=t: "".join(t)) for t in turns + late]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(charges(app)) == ["free"] * 5 + ["unpaid"] * 3
    with pytest.raises(PaymentRequiredError):
        app.fans.turn(fan, clone.id, fan.fan_id, "One more")
    app.worker.drain()


def test_only_the_owner_prices_a_clone_and_inputs_are_checked(app: Clonr, ada) -> None:
    with pytest.raises(ForbiddenError):
        app.billing.acting_as(Creator("someone-else")).set_price(ada.id, "anonymous", 3, 0)
    with pytest.raises(InvalidInputError, match="not an audience"):
        app.billing.set_price(ada.id, "everyone", 3, 0)
    with pytest.raises(InvalidInputError, match=r"at least 0\.50"):
        app.billing.add_pack(ada.id, 10, 20)
    with pytest.raises(InvalidInputError, match="not an amount"):
        parse_money("two cents")
    assert (parse_money("$0.02"), parse_money("2c"), parse_money("4.99")) == (20_000, 20_000, 4_990_000)
    assert (money(20_000, "usd"), money(5_000, "usd"), money(4_990_000, "eur"), money(12_500_000, "chf")) == (
        "$0.02", "$0.005", "€4.99", "12.50 CHF")
    app.billing.set_price(ada.id, "signed_in", None, 10_000)
    app.billing.make_free(ada.id, "signed_in")
    assert app.billing.prices(ada.id) == {}


def test_the_report_shows_revenue_paying_fans_and_busy_hours(app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    app.billing.set_price(ada.id, "anonymous", 1, 30_000)
    fans = [app.fans.visit(ada.id, None).fan for _ in range(2)]
    payer = app.store.ensure_account(ada.id, fans[0].fan_id)
    app.store.set_customer(payer.id, "cus_P")
    app.store.handle_event("evt_g", "checkout.session.completed", Grant("cs_g", payer.id, 1, 250, "usd"),
                           SubscriptionState(payer.id, "sub_P", "active"))
    fake_chat.enqueue(*["Yes."] * 4)
    for _ in range(3):
        say(app, fans[0])
    say(app, fans[1])
    report = app.billing.report(ada.id)
    month = datetime.now(UTC).strftime("%Y-%m")
    assert report.revenue_by_month == {month: 2_500_000 + 30_000}  # a $2.50 pack and one metered message
    assert report.paying_fans == 1 and report.charges == {"free": 2, "pack": 1, "metered": 1}
    assert report.messages_by_fan == {fans[0].fan_id: 3, fans[1].fan_id: 1}
    assert sum(report.messages_by_hour) == 4 and report.messages_by_hour[datetime.now(UTC).hour] == 4
    with app.store.engine.begin() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(billing_outbox)).scalar() == 1
