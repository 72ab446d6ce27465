"""The authorization matrix: every service operation and widget endpoint × every actor, allowed or refused as
`tests/data/authorization_matrix.csv` says. Each cell runs the real operation on fresh data of fan A (a fan
of the published clone Ada); a new operation or endpoint without a row fails the test. An API key speaks
only for its owner's API end users (fans `a_…`, see tests/test_api.py): on fan A's data it is a stranger."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import inspect
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import gradio as gr
import pytest

from clonr import Clonr
from clonr.access import NOBODY, SYSTEM, Actor, Creator, Fan
from clonr.clones import CloneService
from clonr.errors import ClonrError, ForbiddenError, InvalidInputError, NotFoundError, PaymentError
from clonr.fans import FanService
from clonr.ingest.documents import Document
from clonr.store import Grant
from tests.conftest import FakeChatModel

# Called outside a page, the widget's notices to a refused caller come out as Python warnings.
pytestmark = [pytest.mark.filterwarnings("ignore:This conversation has ended:UserWarning"),
              pytest.mark.filterwarnings("ignore:Sign in first:UserWarning")]

MATRIX = Path(__file__).parent / "data" / "authorization_matrix.csv"
ACTORS = ("nobody", "fan_a", "fan_b", "fan_of_other_clone", "owner", "other_creator", "system", "api_key_of_owner")
OWNER, OTHER_CREATOR = Creator("owner-1"), Creator("owner-2")
# Not operations on a clone's data: binding to an actor, formatting, checks, and the fan's token calls.
NOT_DATA_OPERATIONS = {"acting_as", "widget_url", "embed_snippet", "require_creator", "visit", "known", "sign_in",
                       "end_user", "clones_for",  # these two take an API key: tests/test_api.py
                       "discord_user", "link_discord"}  # a user Discord vouched for: tests/test_discord.py
# The creator-facing services, checked by one generic walk (`_creator_operation`).
CREATOR_SERVICES = ("ingest", "dialogues", "interview", "descriptions", "cards", "fidelity", "chat", "groups",
                    "memory", "usage", "billing", "discord", "feeds", "variants", "voice")
# What the turn builder reads on every turn and the writes after it, and helpers that take no clone: their
# callers have checked the actor (the methods that take a checked `Clone` or `GroupChat` record are left out
# by their signature).
INTERNAL = {
    "chat": {"validate_message", "validate_fan", "prompt_budget", "information_budget", "count", "model",
             "recover_interrupted"},
    "memory": {"remember", "remember_exchange", "recall", "lexical_search", "summaries", "entities", "mentioned",
               "score_pending", "reflect", "summarize", "update_knowledge", "forget_messages", "catch_up",
               "remember_later", "remember_stored_exchange"},
    "feeds": {"queue_due", "run_schedule"},  # the schedule's: they take no clone
}
# Operations that answer every actor, each with only what is theirs: allowed means Ada's data is in the answer.
REACHES: dict[str, Callable[[World, object], bool]] = {
    "groups.list": lambda w, groups: w.group_id in [g.id for g in groups],
    "usage.summary": lambda w, lines: w.app.clones.acting_as(SYSTEM).get(w.ada).slug in [u.group for u in lines],
    "discord.bots": lambda w, bots: w.ada in [clone.id for clone, _ in bots],
}
CHOSEN = {"usage.summary": {"by": "clone"}}  # arguments that have a default, chosen so REACHES can tell
ARGUMENTS: dict[str, Callable[[World], object]] = {
    "clone_ref": lambda w: w.ada, "clone_id": lambda w: w.ada, "fan_id": lambda w: w.fan_a.fan_id,
    "group_ref": lambda w: w.group_id, "ref": lambda w: w.group_id,
    "origin": lambda w: "manual", "job_id": lambda w: w.job_id, "memory_id": lambda w: w.memory_id,
    "clone_refs": lambda w: [w.ada], "source_id": lambda w: "missing", "dialogue_id": lambda w: "missing",
    "proposal_id": lambda w: "missing", "message_id": lambda w: 1, "reply_id": lambda w: 1,
    "candidate_id": lambda w: 1, "items": lambda w: [("missing.txt", {})],
    "references": lambda w: ["https://example.invalid/"], "options": lambda w: {}, "path": lambda w: Path("missing"),
    "filename": lambda w: "card.json", "data": lambda w: b"{}", "spec": lambda w: "ccv3", "memories": lambda w: [],
    "document": lambda w: Document("note", "Title", text="Some text."), "texts": lambda w: ["x"],
    "dialogues.items": lambda w: [("Hello", "Good day!", "general")],
    "audience": lambda w: "anonymous", "free_messages": lambda w: 10, "price_micros": lambda w: 0,
    "messages": lambda w: 10, "amount_cents": lambda w: 100, "pack_id": lambda w: "missing",
    "return_url": lambda w: "https://example.invalid/", "url": lambda w: "http://127.0.0.1:9/feed",
    "feed_id": lambda w: "missing", "item_id": lambda w: "missing", "as_of": lambda w: date(2015, 12, 31),
    "published": lambda w: "2015", "found": lambda w: [], "said_by": lambda w: datetime.now(UTC),
    "into": lambda w: w.app.clones.acting_as(SYSTEM).get(w.ada), "provider": lambda w: "piper",
    "voice_id": lambda w: "missing", "samples": lambda w: [],
    **{name: (lambda w: "Some words.") for name in ("message", "text", "user_text", "char_text", "thought", "title",
                                                    "name", "me", "fan_name", "query")},
}

SECRET = "My secret code word is Parsnip."


def rows() -> dict[str, dict[str, str]]:
    with MATRIX.open() as file:
        return {row["operation"]: row for row in csv.DictReader(file)}


@dataclass
class World:
    app: Clonr
    ada: str
    draft: str
    fan_a: Fan
    tokens: dict[str, str | None]  # the token each actor can present to the widget
    actors: dict[str, Actor]
    memory_id: str
    group_id: str
    job_id: str


def make_world(app: Clonr, fake_chat: FakeChatModel) -> World:
    """Ada (published) and a draft, owned by owner-1; Bob (published), owned by owner-2; fans A and B of
    Ada, each with a conversation and a memory; a fan of Bob."""
    owners, suffix = app.clones.acting_as(OWNER), uuid.uuid4().hex[:8]
    ada = owners.create(f"Ada {suffix}")
    owners.publish(ada.id)
    draft = owners.create(f"Draft {suffix}")
    bob = app.clones.acting_as(OTHER_CREATOR).create(f"Bob {suffix}")
    app.clones.acting_as(OTHER_CREATOR).publish(bob.id)
    visits = {"fan_a": app.fans.visit(ada.id, None), "fan_b": app.fans.visit(ada.id, None),
              "fan_of_other_clone": app.fans.visit(bob.id, None)}
    memory = None
    for name, visit in visits.items():
        fake_chat.enqueue("Noted.")
        "".join(app.fans.turn(SYSTEM, visit.fan.clone_id, visit.fan.fan_id, SECRET if name == "fan_a" else "Hi."))
        made = app.memory.remember(visit.fan.clone_id, visit.fan.fan_id, [f"{name} likes parsnips"])
        memory = memory or made[0]
    app.worker.drain()
    actors = {"nobody": NOBODY, "owner": OWNER, "other_creator": OTHER_CREATOR, "system": SYSTEM,
              "api_key_of_owner": app.keys.authenticate(app.keys.create(OWNER, f"key {suffix}").secret),
              **{name: visit.fan for name, visit in visits.items()}}
    tokens = {name: None for name in actors} | {name: visit.token for name, visit in visits.items()}
    app.store.set_fan_subject(ada.id, visits["fan_a"].fan.fan_id, "https://auth.example|fan-a")  # signed in
    app.billing.acting_as(OWNER).set_price(ada.id, "signed_in", 1000, 0)  # fan A has bought 7 messages
    account = app.store.ensure_account(ada.id, visits["fan_a"].fan.fan_id)
    app.store.handle_event(f"evt_{suffix}", "checkout.session.completed",
                           Grant(f"cs_{suffix}", account.id, 7, 99, "usd"))
    app.discord.acting_as(OWNER).connect(ada.id, token_env="ADA_DISCORD_TOKEN")
    group = app.groups.acting_as(OWNER).create(f"Group {suffix}", [ada.id])
    job = app.ingest.acting_as(OWNER).start_job(ada.id, [("missing.txt", {})])
    return World(app, ada.id, draft.id, visits["fan_a"].fan, tokens, actors, memory.id, group.id, job.id)


def _service(world: World, actor: Actor) -> Callable[[str], object]:
    clones, fans, a = world.app.clones.acting_as(actor), world.app.fans, world.fan_a
    return {
        "clones.create": lambda: clones.create(f"Another {uuid.uuid4().hex[:8]}"),
        "clones.get": lambda: clones.get(world.ada),
        "clones.public": lambda: clones.public(world.ada),
        "clones.public (draft)": lambda: clones.public(world.draft),
        "clones.published": lambda: _present(world.ada, clones.published()),
        "clones.list": lambda: _present(world.ada, clones.list()),
        "clones.update": lambda: clones.update(world.ada, greeting="Hello"),
        "clones.publish": lambda: clones.publish(world.ada),
        "clones.create_variant": lambda: clones.create_variant(world.ada, date(2015, 12, 31)),
        "clones.variants": lambda: clones.variants(world.ada),
        "fans.turn": lambda: "".join(fans.turn(actor, world.ada, a.fan_id, "Hello?")),
        "fans.turn (draft)": lambda: "".join(fans.turn(actor, world.draft, a.fan_id, "Hello?")),
        "fans.history": lambda: fans.history(actor, world.ada, a.fan_id),
        "fans.speak": lambda: list(fans.speak(actor, world.ada, a.fan_id)),
        "fans.memories": lambda: fans.memories(actor, world.ada, a.fan_id),
        "fans.forget_memory": lambda: fans.forget_memory(actor, world.ada, a.fan_id, world.memory_id),
        "fans.forget": lambda: fans.forget(actor, world.ada, a.fan_id),
        "fans.export": lambda: fans.export(actor, world.ada, a.fan_id),
        "fans.post": lambda: "".join(fans.post(actor, world.ada, a.fan_id, "Hello?", None)),  # type: ignore[arg-type]
        "fans.draft": lambda: "".join(fans.draft(actor, world.ada, a.fan_id, "Dear friends,")),
        "fans.start_conversation": lambda: fans.start_conversation(actor, world.ada, a.fan_id),
        "fans.conversations": lambda: fans.conversations(actor, world.ada, a.fan_id),
        "fans.exchange": lambda: fans.exchange(actor, world.ada, a.fan_id, tuple(  # type: ignore[arg-type]
            m.id for m in fans.history(SYSTEM, world.ada, a.fan_id, 2))),
        "fans.standing": lambda: fans.standing(actor, world.ada, a.fan_id),
        "fans.fans_of": lambda: _present_fan(a.fan_id, fans.fans_of(actor, world.ada)),
        "fans.link_code": lambda: fans.link_code(actor, world.ada, a.fan_id),
        "fans.group_post": lambda: [("".join(turn)) for turn in fans.group_post(
            actor, world.app.groups.acting_as(SYSTEM).get(world.group_id), world.ada, a.fan_id, "Fan A", "Ada?")],
        "fans.step_in": lambda: fans.step_in(actor, world.ada, a.fan_id, "Hello, it is really me."),
        "fans.checkout": lambda: _past_the_check(lambda: fans.checkout(actor, world.ada, a.fan_id, "subscription",
                                                                       "https://example.invalid/")),
    }


def _present_fan(fan_id: str, found: list) -> None:
    if fan_id not in [f.fan_id for f in found]:
        raise ForbiddenError("not listed")


def _past_the_check(call: Callable[[], object]) -> None:
    """Payments are not set up here: a call that gets as far as Stripe, or finds nothing to charge, was allowed."""
    with contextlib.suppress(PaymentError, InvalidInputError):
        call()


def _present(clone_id: str, clones: list) -> None:
    if clone_id not in [c.id for c in clones]:
        raise ForbiddenError("not listed")


def _reaches_fan_a(world: World, operation: str, token: str | None) -> bool:
    """Calls a widget function with the token, as a raw queue call may; whether it reached fan A's data."""
    from widget.app import build_app

    blocks = build_app(world.app, world.ada)
    fn = next(f.fn for f in blocks.fns.values() if f.api_name == operation.removeprefix("widget ").lstrip("/"))
    app, a = world.app, world.fan_a
    before = (len(app.fans.history(SYSTEM, world.ada, a.fan_id)), len(app.fans.memories(SYSTEM, world.ada, a.fan_id)))
    if operation == "widget buy":
        bought = []
        app.payments.checkout = lambda clone, bill, offer, url: bought.append(bill.payer) or "https://pay.invalid/"
        fn(token, "subscription")
        return bought == [a.fan_id]
    if operation == "widget /chat":
        asyncio.run(_drain(fn("What is my secret code word?", [], token)))
        return len(app.fans.history(SYSTEM, world.ada, a.fan_id)) > before[0]
    arguments = {"widget forget_one": (token, world.memory_id), "widget forget_me": (token, True)}
    result = fn(*arguments.get(operation, (token,)))
    if _unchanged(result):  # refused: the fan was shown a notice and the page left as it was
        return False
    if operation == "widget start":
        return SECRET in str(result)
    if operation == "widget discord_code":  # a code that names fan A, not just any fan
        codes = re.findall(r"```\n(.+)\n```", str(result))
        checked = app.fans._links.check(codes[0], world.ada) if codes else None
        return checked is not None and checked[0] == a.fan_id
    if operation == "widget standing":
        return "7 bought messages" in result[0]
    if operation == "widget remembered":
        return "fan_a likes parsnips" in str(result.choices)
    if operation == "widget download":
        return SECRET in Path(result).read_text()
    after = (len(app.fans.history(SYSTEM, world.ada, a.fan_id)), len(app.fans.memories(SYSTEM, world.ada, a.fan_id)))
    return after != before


def _unchanged(result: object) -> bool:
    """Whether a widget function answered with `gr.skip()` for every output."""
    parts = result if isinstance(result, tuple) else (result,)
    return all(part == gr.skip() for part in parts)


async def _drain(stream: AsyncIterator[object]) -> None:
    async for _ in stream:
        pass


def _public_operations(cls: type) -> set[str]:
    """Public methods of a service that act on a clone's data (not those taking a checked record)."""
    found = set()
    for name, method in inspect.getmembers(cls, inspect.isfunction):
        parameters = list(inspect.signature(method).parameters.values())[1:]
        takes_record = parameters and parameters[0].annotation in ("Clone", "GroupChat")
        if not name.startswith("_") and name not in NOT_DATA_OPERATIONS and not takes_record:
            found.add(name)
    return found


def _creator_operation(world: World, actor: Actor, service: str, name: str) -> object:
    """Call one operation of a creator-facing service as `actor`, with stand-in arguments."""
    method = getattr(getattr(world.app, service).acting_as(actor), name)
    arguments = []
    for parameter in list(inspect.signature(method).parameters.values()):
        if parameter.default is not inspect.Parameter.empty or parameter.kind is parameter.VAR_KEYWORD:
            continue
        stand_in = ARGUMENTS.get(f"{service}.{parameter.name}") or ARGUMENTS.get(parameter.name)
        assert stand_in, f"{service}.{name}: add a stand-in for {parameter.name!r} to ARGUMENTS"
        arguments.append(stand_in(world))
    result = method(*arguments, **CHOSEN.get(f"{service}.{name}", {}))
    result = list(result) if inspect.isgenerator(result) else result
    if f"{service}.{name}" in REACHES and not REACHES[f"{service}.{name}"](world, result):
        raise ForbiddenError("Ada's data is not in the answer")
    return result


def test_every_operation_and_endpoint_has_a_row_for_every_actor(app: Clonr) -> None:
    table = rows()
    for service in CREATOR_SERVICES:
        operations = _public_operations(type(getattr(app, service))) - INTERNAL.get(service, set())
        missing = {f"{service}.{name}" for name in operations} - set(table)
        assert not missing, f"operations without a row in {MATRIX.name}: {sorted(missing)}"
    for cls in (CloneService, FanService):
        public = {name for name, _ in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")}
        prefix = {CloneService: "clones", FanService: "fans"}[cls]
        missing = {f"{prefix}.{name}" for name in public - NOT_DATA_OPERATIONS} - set(table)
        assert not missing, f"operations without a row in {MATRIX.name}: {sorted(missing)}"
    from widget.app import build_app  # every function the widget page exposes, private ones included

    app_functions = {"chat", "start", "remembered", "forget_one", "forget_me", "download", "standing", "buy",
                     "discord_code"}
    assert {op.removeprefix("widget ").lstrip("/") for op in table if op.startswith("widget ")} == app_functions
    assert build_app  # imported: the widget's functions are enumerated in test_the_widget_exposes_only_these
    for operation, row in table.items():
        assert all(row[actor] in ("allow", "refuse") for actor in ACTORS), operation


@pytest.mark.parametrize("operation", list(rows()))
def test_the_matrix_holds(operation: str, app: Clonr, fake_chat: FakeChatModel) -> None:
    expected = rows()[operation]
    wrong = []
    for actor_name in ACTORS:
        world = make_world(app, fake_chat)
        if operation.startswith("widget "):
            allowed = _reaches_fan_a(world, operation, world.tokens[actor_name])
        elif operation.split(".")[0] in CREATOR_SERVICES:
            service, name = operation.split(".")
            try:
                _creator_operation(world, world.actors[actor_name], service, name)
                allowed = True
            except ForbiddenError:
                allowed = False
            except ClonrError:  # past the check: the stand-in arguments name nothing real
                allowed = True
        else:
            try:
                result = _service(world, world.actors[actor_name])[operation]()
                allowed = True
                if operation == "fans.history":
                    assert SECRET in [m.content for m in result]
            except (ForbiddenError, NotFoundError):
                allowed = False
        if allowed != (expected[actor_name] == "allow"):
            wrong.append(f"{actor_name}: {'allowed' if allowed else 'refused'}, table says {expected[actor_name]}")
        app.worker.drain()
    assert not wrong, f"{operation}: {wrong}"


def test_the_widget_exposes_only_these_functions(app: Clonr, fake_chat: FakeChatModel) -> None:
    from widget.app import build_app

    world = make_world(app, fake_chat)
    named = {f.api_name for f in build_app(app, world.ada).fns.values() if f.fn is not None}
    ours = {"chat", "start", "remembered", "forget_one", "forget_me", "download"}
    assert ours <= named
    takes_token = [f for f in build_app(app, world.ada).fns.values() if f.api_name in ours]
    assert all(any(type(block).__name__ == "BrowserState" for block in f.inputs) for f in takes_token), \
        "every function that touches a fan's data takes the page's token"
