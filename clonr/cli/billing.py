"""`clonr billing`: prices per audience, message packs, the earnings report, and the meter outbox."""

from __future__ import annotations

import dataclasses
import json

import click

from clonr.billing import AUDIENCES, money, parse_money
from clonr.cli.context import app_from
from clonr.errors import InvalidInputError


@click.group()
def billing() -> None:
    """Charge per message: free allowances, prices and packs per audience, paid through Stripe."""


def _free(value: str) -> int | None:
    if value.strip().lower() == "unlimited":
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInputError(f"--free {value!r}: give a number of messages a month, or `unlimited`.") from None


@billing.command()
@click.argument("clone")
@click.option("--audience", type=click.Choice(list(AUDIENCES)), required=True, help="Who the price is for.")
@click.option("--free", "free", default="unlimited", show_default=True,
              help="Free messages a month: a number (0 for none) or `unlimited`.")
@click.option("--per-message", default="0", show_default=True,
              help="Price of each message past the free ones, for fans who subscribe (e.g. 0.02); 0: packs only.")
@click.pass_context
def price(ctx: click.Context, clone: str, audience: str, free: str, per_message: str) -> None:
    """Price CLONE's messages for one audience."""
    app = app_from(ctx)
    made = app.billing.set_price(clone, audience, _free(free), parse_money(per_message))
    allowance = "unlimited" if made.free_messages is None else str(made.free_messages)
    then = f", then {money(made.price_micros, app.settings.currency)} each" if made.price_micros else ""
    click.echo(f"{AUDIENCES[audience].capitalize()}: {allowance} free messages a month{then}.")
    if not app.payments.configured and (made.price_micros or made.free_messages is not None):
        click.echo("Nothing can be bought until STRIPE_SECRET_KEY is set: past the free messages, fans are "
                   "asked to come back next month.", err=True)


@billing.command()
@click.argument("clone")
@click.option("--audience", type=click.Choice(list(AUDIENCES)), required=True)
@click.pass_context
def free(ctx: click.Context, clone: str, audience: str) -> None:
    """Make CLONE's messages free and unlimited again for one audience."""
    app_from(ctx).billing.make_free(clone, audience)
    click.echo(f"Messages are free for {AUDIENCES[audience]}.")


@billing.command(name="add-pack")
@click.argument("clone")
@click.option("--messages", type=click.IntRange(1), required=True, help="Messages in the pack.")
@click.option("--price", "amount", required=True, help="What it costs, e.g. 4.99.")
@click.pass_context
def add_pack(ctx: click.Context, clone: str, messages: int, amount: str) -> None:
    """Sell a pack of messages with CLONE (to every audience but API keys)."""
    pack = app_from(ctx).billing.add_pack(clone, messages, round(parse_money(amount) / 10_000))
    click.echo(f"Pack {pack.id} added.")


@billing.command(name="remove-pack")
@click.argument("clone")
@click.argument("pack_id")
@click.pass_context
def remove_pack(ctx: click.Context, clone: str, pack_id: str) -> None:
    """Stop selling a pack (messages already bought stay)."""
    app_from(ctx).billing.remove_pack(clone, pack_id)
    click.echo("Pack removed.")


@billing.command()
@click.argument("clone")
@click.pass_context
def show(ctx: click.Context, clone: str) -> None:
    """CLONE's prices and packs."""
    app = app_from(ctx)
    currency = app.settings.currency
    prices = app.billing.prices(clone)
    for audience, name in AUDIENCES.items():
        found = prices.get(audience)
        if found is None or found.free_messages is None:
            line = "free, unlimited" + (f" (then {money(found.price_micros, currency)})" if found and
                                        found.price_micros else "")
        else:
            line = f"{found.free_messages} free a month" + (
                f", then {money(found.price_micros, currency)} a message" if found.price_micros else ", then packs")
        click.echo(f"{name:<26} {line}")
    for pack in app.billing.packs(clone):
        click.echo(f"pack {pack.id}  {pack.messages} messages for {money(pack.amount_cents * 10_000, currency)}")


@billing.command()
@click.argument("clone")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def report(ctx: click.Context, clone: str, as_json: bool) -> None:
    """What CLONE earned, paying fans, messages per fan and the busiest hours."""
    found = app_from(ctx).billing.report(clone)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(found), indent=2))
        return
    for month, amount in found.revenue_by_month.items() or [("-", 0)]:
        click.echo(f"revenue {month:<8} {money(amount, found.currency)}")
    click.echo(f"paying fans        {found.paying_fans}")
    click.echo("replies            " + (", ".join(f"{n} {kind}" for kind, n in sorted(found.charges.items()))
                                        or "none billed yet"))
    click.echo(f"messages per fan   median {found.median_messages_per_fan:g}")
    busiest = sorted(range(24), key=lambda hour: -found.messages_by_hour[hour])[:3]
    if any(found.messages_by_hour):
        click.echo("busiest hours UTC  " + ", ".join(f"{h:02d}:00 ({found.messages_by_hour[h]})" for h in busiest))


@billing.command()
@click.argument("clone")
@click.option("--return-url", default="", help="Where Stripe sends you back (default: the clone's widget).")
@click.pass_context
def subscribe(ctx: click.Context, clone: str, return_url: str) -> None:
    """Print the Stripe Checkout link that subscribes you to metered API messages with CLONE (past the API
    audience's free ones, your keys' messages are billed to you)."""
    app = app_from(ctx)
    click.echo(app.billing.subscribe(clone, return_url or app.clones.widget_url(app.clones.get(clone))))


@billing.command()
@click.pass_context
def send(ctx: click.Context) -> None:
    """Send metered messages waiting in the outbox to Stripe now (`clonr serve` does it every
    CLONR_METER_SEND_SECONDS)."""
    meter = app_from(ctx).meter
    sent = failed = 0
    with click.progressbar(length=meter.pending(), label="Sending to Stripe", show_pos=True) as bar:
        while True:
            done = meter.send_due()
            sent, failed = sent + done.sent, failed + done.failed
            bar.update(done.sent + done.failed)
            if not done.sent:  # nothing left, or only events Stripe refused: they are retried later
                break
    click.echo(f"{sent} sent, {failed} to retry later.")


@billing.command()
@click.option("--repair", is_flag=True, help="Write missing outbox rows and send every unsent event now.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def reconcile(ctx: click.Context, repair: bool, as_json: bool) -> None:
    """Compare this month's ledger, the outbox and Stripe's meter; report (or repair) the difference. Exits 1
    when something is left to look at."""
    found = app_from(ctx).meter.reconcile(repair=repair)
    if as_json:
        click.echo(json.dumps({**dataclasses.asdict(found), "clean": found.clean}, indent=2))
    else:
        click.echo(f"metered replies without an outbox row: {found.missing_outbox}")
        click.echo(f"meter events unsent for over 10 minutes: {found.late}")
        for customer, (ledger, stripe) in found.differences.items():
            click.echo(f"customer {customer}: {ledger} in the ledger, {stripe} counted by Stripe")
        if repair:
            click.echo(f"repaired: {found.repaired}")
        click.echo("Nothing to repair." if found.clean else
                   "Differences remain" + ("." if repair else ": run with --repair."))
    if not found.clean:
        ctx.exit(1)


COMMANDS = (billing,)
