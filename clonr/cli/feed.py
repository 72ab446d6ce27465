"""`clonr feed`: the creator's live feeds (a blog, Mastodon, Bluesky, a YouTube channel), whose new posts become
the clone's life lately."""

from __future__ import annotations

import sys

import click

from clonr.cli.context import app_from
from clonr.feeds import PollResult
from clonr.store import FeedItem, FeedRecord


@click.group()
def feed() -> None:
    """Live feeds: what the creator posts becomes what the clone has been up to lately."""


def _when(value: object) -> str:
    return "never" if value is None else f"{value:%Y-%m-%d %H:%M}"


def _feed_line(record: FeedRecord) -> str:
    mode = "review" if record.review else "auto"
    state = f"  failing ({record.failures}x): {record.last_error}" if record.last_error else ""
    return (f"{record.id[:8]}  {record.network:<12} {mode:<6} {record.title[:40]:<40} polled "
            f"{_when(record.last_polled_at)}, next {_when(record.next_poll_at)}{state}")


def _item_line(item: FeedItem) -> str:
    said = item.title or item.text
    return f"{item.id[:8]}  {item.published_at:%Y-%m-%d}  {item.status:<8} {said[:90]}"


def _report(result: PollResult) -> None:
    if result.error:
        click.echo(f"{result.feed.title[:40]}: failed ({result.error}); trying again later.")
    elif result.not_modified:
        click.echo(f"{result.feed.title[:40]}: unchanged since the last poll.")
    else:
        waiting = " (waiting for your review: `clonr feed items --pending`)" if result.feed.review else ""
        click.echo(f"{result.feed.title[:40]}: {len(result.new)} new post(s){waiting if result.new else ''}.")
    for item in result.new:
        click.echo("  " + _item_line(item))


@feed.command()
@click.argument("clone")
@click.argument("url")
@click.option("--review", is_flag=True, help="New posts wait for `clonr feed accept` before the clone learns them.")
@click.option("--as-source", is_flag=True, help="Also add each post the clone learns as a source.")
@click.option("--token-stdin", is_flag=True,
              help="Read an API access token from standard input (Mastodon: scope read:statuses) and store it "
                   "encrypted; without one, the public feed is read.")
@click.pass_context
def add(ctx: click.Context, clone: str, url: str, review: bool, as_source: bool, token_stdin: bool) -> None:
    """Follow URL for CLONE: a blog (or any page that links to its feed), an RSS or Atom feed, a Mastodon or
    Bluesky profile, or a YouTube channel. It is read once now, then every CLONR_FEED_MINUTES."""
    token = sys.stdin.readline().strip() if token_stdin else None
    result = app_from(ctx).feeds.add(clone, url, review=review, as_source=as_source, token=token)
    click.echo(f"Following {result.feed.title} ({result.feed.network}, id {result.feed.id[:8]}).")
    _report(result)


@feed.command(name="list")
@click.argument("clone")
@click.pass_context
def list_feeds(ctx: click.Context, clone: str) -> None:
    """CLONE's feeds: when each was polled, when it is next, and why it fails if it does."""
    found = app_from(ctx).feeds.list(clone)
    if not found:
        click.echo(f"No feeds yet: `clonr feed add {clone} URL`.")
    for record in found:
        click.echo(_feed_line(record))


@feed.command()
@click.argument("clone")
@click.argument("feed_id", metavar="FEED")
@click.option("--review/--auto", default=None, help="Whether new posts wait for your review.")
@click.option("--as-source/--no-source", default=None, help="Whether learnt posts also become sources.")
@click.pass_context
def change(ctx: click.Context, clone: str, feed_id: str, review: bool | None, as_source: bool | None) -> None:
    """Change how FEED's posts to come are taken in."""
    click.echo(_feed_line(app_from(ctx).feeds.change(clone, feed_id, review=review, as_source=as_source)))


@feed.command()
@click.argument("clone")
@click.argument("feed_id", metavar="FEED")
@click.option("--forget", is_flag=True, help="Also forget what the clone learnt from its posts.")
@click.pass_context
def remove(ctx: click.Context, clone: str, feed_id: str, forget: bool) -> None:
    """Stop following FEED (an id from `clonr feed list`, or its first characters)."""
    record = app_from(ctx).feeds.remove(clone, feed_id, forget=forget)
    click.echo(f"No longer following {record.title}" + (", and its posts are forgotten." if forget else "."))


@feed.command()
@click.argument("clone")
@click.argument("feed_id", metavar="[FEED]", required=False)
@click.pass_context
def poll(ctx: click.Context, clone: str, feed_id: str | None) -> None:
    """Poll CLONE's feeds (or one) now, without waiting for the schedule."""
    results = app_from(ctx).feeds.poll(clone, feed_id)
    if not results:
        click.echo(f"No feeds yet: `clonr feed add {clone} URL`.")
    for result in results:
        _report(result)


@feed.command()
@click.argument("clone")
@click.option("--pending", is_flag=True, help="Only the posts waiting for your review.")
@click.option("--limit", type=click.IntRange(1, 1000), default=30, show_default=True)
@click.pass_context
def items(ctx: click.Context, clone: str, pending: bool, limit: int) -> None:
    """CLONE's posts from its feeds, newest first."""
    found = app_from(ctx).feeds.items(clone, status="pending" if pending else None, limit=limit)
    if not found:
        click.echo("Nothing waiting for review." if pending else "No posts yet.")
    for item in found:
        click.echo(_item_line(item))


def _decision(verb: str, help_text: str) -> None:
    """`clonr feed accept` and `reject`: the same arguments, one service call per post."""

    @feed.command(name=verb, help=help_text)
    @click.argument("clone")
    @click.argument("item_ids", metavar="POST...", nargs=-1, required=True)
    @click.pass_context
    def decide(ctx: click.Context, clone: str, item_ids: tuple[str, ...]) -> None:
        for item_id in item_ids:
            click.echo(_item_line(getattr(app_from(ctx).feeds, verb)(clone, item_id)))


_decision("accept", "Let posts waiting for review in: the clone learns them as things it did.")
_decision("reject", "Keep posts out (a post the clone had learnt is forgotten).")


COMMANDS = [feed]
