"""Charge per message: prices per audience, message packs, and what the clone earned, with plots.

Everything goes through `app.billing`, bound to the signed-in creator: another creator's clone is refused there.
"""

import pandas as pd
import streamlit as st

from clonr import ClonrError
from clonr.billing import AUDIENCES, money, parse_money
from studio.markup import plain
from studio.resources import current_clone, get_app

UNLIMITED, NONE, SOME = "unlimited", "none", "this many"

app = get_app()
clone = current_clone()
currency = app.settings.currency
st.header("Monetise")
st.caption(f"Charge per message with {plain(clone.name)}: a free allowance each month for each audience, then a price "
           "per message for those who subscribe, and packs fans can buy. Fans pay through Stripe Checkout.")
if not app.payments.configured:
    st.warning("Stripe is not set up on this server (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET): allowances work, "
               "but nothing can be bought until it is.")


def allowance_of(audience: str) -> int | None:
    """The free messages chosen for an audience in the form."""
    kind = st.session_state[f"monetise_kind_{audience}"]
    return None if kind == UNLIMITED else 0 if kind == NONE else int(st.session_state[f"monetise_free_{audience}"])


st.subheader("Prices")
prices = app.billing.prices(clone.id)
with st.form("monetise_prices"):
    for audience, name in AUDIENCES.items():
        found = prices.get(audience)
        kind = UNLIMITED if found is None or found.free_messages is None else NONE if found.free_messages == 0 \
            else SOME
        left, middle, right = st.columns([2, 1, 1])
        left.radio(f"Free messages a month for {name}", [UNLIMITED, NONE, SOME], index=[UNLIMITED, NONE,
                                                                                        SOME].index(kind),
                   horizontal=True, key=f"monetise_kind_{audience}")
        middle.number_input("How many", min_value=1, max_value=10_000_000, step=10,
                            value=found.free_messages if found and found.free_messages else 20,
                            key=f"monetise_free_{audience}")
        right.text_input(f"Then, a message ({currency.upper()})", value=f"{found.price_micros / 1e6:g}"
                         if found else "0", key=f"monetise_price_{audience}",
                         help="For fans who subscribe (billed monthly); 0: only packs.")
    save = st.form_submit_button("Save prices", type="primary")
if save:
    try:
        for audience in AUDIENCES:
            free = allowance_of(audience)
            price = parse_money(st.session_state[f"monetise_price_{audience}"])
            if free is None and not price:
                app.billing.make_free(clone.id, audience)
            else:
                app.billing.set_price(clone.id, audience, free, price)
        st.success("Prices saved: they apply from the next message.")
    except ClonrError as exc:
        st.error(str(exc))

st.subheader("Message packs")
packs = app.billing.packs(clone.id)
if packs:
    st.dataframe(pd.DataFrame([{"messages": p.messages, "price": money(p.amount_cents * 10_000, currency),
                                "id": p.id} for p in packs]), hide_index=True)
with st.form("monetise_pack", clear_on_submit=True):
    left, right = st.columns(2)
    messages = left.number_input("Messages", min_value=1, max_value=1_000_000, value=100, key="monetise_pack_n")
    amount = right.text_input(f"Price ({currency.upper()})", value="4.99", key="monetise_pack_price")
    add = st.form_submit_button("Add pack")
if add:
    try:
        app.billing.add_pack(clone.id, int(messages), round(parse_money(amount) / 10_000))
        st.rerun()
    except ClonrError as exc:
        st.error(str(exc))
if packs:
    chosen = st.selectbox("Stop selling", [p.id for p in packs], key="monetise_remove_pack",
                          format_func=lambda i: next(f"{p.messages} messages" for p in packs if p.id == i))
    if st.button("Remove pack", key="monetise_remove"):
        app.billing.remove_pack(clone.id, chosen)
        st.rerun()

api_price = prices.get("api")
if api_price and api_price.price_micros and app.payments.configured:
    st.subheader("Your API keys")
    st.caption("Past the API audience's free messages, your keys' messages are billed to you: subscribe once.")
    if st.button("Subscribe to metered API messages", key="monetise_subscribe"):
        try:
            url = app.billing.subscribe(clone.id, app.clones.widget_url(clone))
            st.link_button("Continue to payment (Stripe)", url)
        except ClonrError as exc:
            st.error(str(exc))

st.subheader("Earnings and fans")
report = app.billing.report(clone.id)
if not report.charges:
    st.info("No billed messages yet: fans' messages are counted here once the clone has a price.")
    st.stop()
this_month = pd.Timestamp.now(tz="UTC").strftime("%Y-%m")
left, middle, right = st.columns(3)
left.metric("Revenue this month", money(report.revenue_by_month.get(this_month, 0), currency))
middle.metric("Paying fans", report.paying_fans)
right.metric("Messages per fan (median)", f"{report.median_messages_per_fan:g}")
left, right = st.columns(2)
with left:
    st.markdown(f"**Revenue per month ({currency.upper()})**")
    st.bar_chart(pd.DataFrame({"revenue": {m: v / 1e6 for m, v in report.revenue_by_month.items()}}))
    st.markdown("**How messages were paid**")
    st.bar_chart(pd.DataFrame({"messages": report.charges}))
with right:
    st.markdown("**Busiest hours (UTC)**")
    st.bar_chart(pd.DataFrame({"messages": report.messages_by_hour}, index=[f"{h:02d}" for h in range(24)]))
    st.markdown("**Messages per fan (the 20 busiest)**")
    st.bar_chart(pd.DataFrame({"messages": report.messages_by_fan}), horizontal=True)
