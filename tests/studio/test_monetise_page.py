"""The "Monetise" studio page: prices per audience and packs saved through the real billing service, and the
earnings plotted from the real ledger."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
from streamlit.testing.v1 import AppTest

from clonr import Clonr
from clonr.store import Clone, Grant
from tests.conftest import FakeChatModel
from tests.studio.test_api_usage_page import ada, open_page, studio  # noqa: F401 (fixtures)


def test_a_creator_prices_audiences_and_sells_a_pack(studio: AppTest, app: Clonr, ada: Clone) -> None:  # noqa: F811
    studio.run()
    open_page(studio, "monetise")
    assert "Stripe is not set up" in studio.warning[0].value
    studio.radio(key="monetise_kind_anonymous").set_value("this many")
    studio.number_input(key="monetise_free_anonymous").set_value(5)
    studio.radio(key="monetise_kind_api").set_value("none")
    studio.text_input(key="monetise_price_api").input("0.01")
    next(b for b in studio.button if b.label == "Save prices").click().run()
    assert not studio.exception and "Prices saved" in studio.success[0].value
    prices = app.billing.prices(ada.id)
    assert {a: (p.free_messages, p.price_micros) for a, p in prices.items()} == {
        "anonymous": (5, 0), "api": (0, 10_000)}
    studio.text_input(key="monetise_price_signed_in").input("lots")
    next(b for b in studio.button if b.label == "Save prices").click().run()
    assert "not an amount" in studio.error[0].value and "\n" not in studio.error[0].value
    studio.text_input(key="monetise_pack_price").input("0.10")
    next(b for b in studio.button if b.label == "Add pack").click().run()
    assert "at least 0.50" in studio.error[0].value and app.billing.packs(ada.id) == []
    studio.text_input(key="monetise_pack_price").input("4.99")
    next(b for b in studio.button if b.label == "Add pack").click().run()
    assert [(p.messages, p.amount_cents) for p in app.billing.packs(ada.id)] == [(100, 499)]
    assert "No billed messages yet" in studio.info[0].value


def test_earnings_revenue_charges_and_busy_hours_are_plotted(studio: AppTest, app: Clonr, ada: Clone,  # noqa: F811
                                                              fake_chat: FakeChatModel) -> None:
    app.billing.set_price(ada.id, "anonymous", 1, 0)
    fans = [app.fans.visit(ada.id, None).fan for _ in range(2)]
    account = app.store.ensure_account(ada.id, fans[0].fan_id)
    app.store.handle_event("evt_1", "checkout.session.completed", Grant("cs_1", account.id, 10, 499, "usd"))
    fake_chat.enqueue(*["Yes."] * 3)
    for fan in (fans[0], fans[0], fans[1]):
        "".join(app.fans.turn(fan, ada.id, fan.fan_id, "Hi"))
    studio.run()
    open_page(studio, "monetise")
    assert [m.value for m in studio.metric] == ["$4.99", "1", "1.5"]
    revenue, paid_how, hours, per_fan = (plotted(chart) for chart in studio.get("vega_lite_chart"))
    assert revenue.to_dict() == {datetime.now(UTC).strftime("%Y-%m"): 4.99}
    assert paid_how.to_dict() == {"free": 2, "pack": 1}
    assert len(hours) == 24 and hours.sum() == 3 and hours[f"{datetime.now(UTC).hour:02d}"] == 3
    assert sorted(per_fan.to_list()) == [1, 2]


def plotted(chart) -> pd.Series:
    """A bar chart's one series, by its index."""
    [dataset] = chart.proto.datasets
    data = pa.ipc.open_stream(dataset.data.data).read_all().to_pandas()
    index, value = (f"{part} -- streamlit-generated" for part in ("index", "value"))
    return data.set_index(index)[value] if value in data.columns else data.set_index(index).iloc[:, 0]
