"""Group chats: several fans and several clones in one conversation.

Who speaks next: clones named in the message answer, in the order named; when nobody is named, each clone
answers with its talkativeness as the chance (someone always does). Each reply is made by the chat service's
one turn builder, from that clone's point of view: its own lines are its history, everyone else's lines
carry their names, and it is given what it knows of the fan who spoke (memories, summary, the people they
mention) — never another fan's, since every fan in the group reads the reply.
"""

from __future__ import annotations

import functools
import random
import re
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from clonr.chat.service import HISTORY_TO_LOAD, ChatService, Conversation, Turn, TurnOptions, ledger_row
from clonr.clones import CloneService
from clonr.clones.acting import ActsFor
from clonr.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from clonr.memory import MemoryService
from clonr.store import Bill, Clone, GroupChat, GroupMessage, Message, SqlStore

DEFAULT_TALKATIVENESS = 0.5


def group_line_source(line_id: int) -> str:
    """The source of the memories made from a group's line, so a prompt that shows the line skips them."""
    return f"group:{line_id}"


class GroupChatService(ActsFor):
    """Group chats of one creator's clones: the actor must manage every clone in a group to use it."""

    def __init__(self, store: SqlStore, clones: CloneService, chat: ChatService, memory: MemoryService,
                 rng: random.Random | None = None) -> None:
        self._store = store
        self._clones = clones
        self._chat = chat
        self._memory = memory
        self._rng = rng or random.Random()

    def create(self, name: str, clone_refs: Sequence[str], talkativeness: dict[str, float] | None = None) -> GroupChat:
        name = " ".join(name.split())
        if not name or len(name) > 120:
            raise InvalidInputError("A group chat needs a name of 1-120 characters: give it one.")
        clones = [self._owned(ref) for ref in clone_refs]
        if not clones or len({c.id for c in clones}) != len(clones):
            raise InvalidInputError("A group chat needs one or more different clones: name each clone once.")
        chances = {}
        for clone in clones:
            value = next((v for k, v in (talkativeness or {}).items()
                          if k.lower() in (clone.id, clone.slug, clone.name.lower())), DEFAULT_TALKATIVENESS)
            if not 0.0 <= value <= 1.0:
                raise InvalidInputError(f"Talkativeness for {clone.name} is {value}: use a number from 0 to 1.")
            chances[clone.id] = value
        return self._store.create_group(uuid.uuid4().hex, name, chances)

    def get(self, ref: str) -> GroupChat:
        group = self._store.get_group(ref)
        for clone_id in group.members:
            self._owned(clone_id)
        return group

    def list(self, clone_ref: str | None = None) -> list[GroupChat]:
        """The actor's group chats, oldest first; with `clone_ref`, those the clone is in."""
        groups = self._store.list_groups(self._owned(clone_ref).id if clone_ref else None)
        mine = {c.id for c in self._clones.list()}
        return [group for group in groups if set(group.members) <= mine]

    def next_speakers(self, group: GroupChat, text: str, someone_answers: bool = True) -> list[Clone]:
        """The clones named in `text`, in the order named; when none is, each at its talkativeness, and one at
        least when `someone_answers` (a group of clones and fans; not a Discord channel full of people)."""
        members = sorted((self._store.get_clone(clone_id) for clone_id in group.members),
                         key=lambda c: (-group.members[c.id], c.name))  # the most talkative speak first
        lowered = text.lower()
        named = []
        for clone in members:
            names = {clone.name.lower(), clone.name.split()[0].lower(), clone.slug}
            positions = [m.start() for n in names for m in re.finditer(rf"(?<!\w)@?{re.escape(n)}(?!\w)", lowered)]
            if positions:
                named.append((min(positions), clone))
        if named:
            return [clone for _, clone in sorted(named, key=lambda item: item[0])]
        chosen = [c for c in members if self._rng.random() < group.members[c.id]]
        return chosen or (members[:1] if someone_answers else [])

    def ensure(self, name: str, clone_refs: Sequence[str], talkativeness: dict[str, float] | None = None) -> GroupChat:
        """The group chat called `name`, made with these clones when there is none (a Discord channel's)."""
        try:
            return self.get(name)
        except NotFoundError:
            try:
                return self.create(name, clone_refs, talkativeness)
            except AlreadyExistsError:  # another process made it meanwhile
                return self.get(name)

    def post(self, group_ref: str, fan_id: str, fan_name: str, text: str, channel: str = "group",
             bill: Bill | None = None, someone_answers: bool = True) -> Iterator[Turn]:
        """Store the fan's message, then yield one Turn per clone that answers (`next_speakers`); run each before
        the next. The replies are recorded under `channel` in the usage ledger and charged to `bill` (none:
        nobody pays)."""
        group = self.get(group_ref)
        fan_id = self._chat.validate_fan(fan_id)
        text = self._chat.validate_message(text)
        fan_name = " ".join((fan_name or "Fan").split())[:60] or "Fan"
        before = self._store.recent_group_messages(group.id, HISTORY_TO_LOAD)
        posted = self._store.add_group_message(group.id, "fan", fan_id, fan_name, text)
        speakers = self.next_speakers(group, text, someone_answers)
        said: list[GroupMessage] = []  # replies of this round so far; each finished turn adds its own
        for clone in speakers:
            yield self._turn(group, clone, before, posted, said, TurnOptions(channel=channel, bill=bill))

    def history(self, group_ref: str, limit: int = 100) -> list[GroupMessage]:
        return self._store.recent_group_messages(self.get(group_ref).id, limit)

    def _turn(self, group: GroupChat, clone: Clone, before: list[GroupMessage], posted: GroupMessage,
              said: list[GroupMessage], options: TurnOptions) -> Turn:
        history = [Message(m.id, clone.id, m.speaker_id, "assistant" if m.speaker_id == clone.id else "user",
                           m.content if m.speaker_id == clone.id else f"{m.speaker_name}: {m.content}", m.created_at)
                   for m in before]
        others = sorted({m.speaker_name for m in [*before, posted] if m.speaker_id != clone.id})
        cue = "\n".join([f"[Group chat '{group.name}' with {', '.join(others)}]",
                         f"{posted.speaker_name}: {posted.content}",
                         *(f"{m.speaker_name}: {m.content}" for m in said)])

        def finish(turn: Turn) -> None:
            status = "interrupted" if turn.interrupted else "complete"
            reply = self._store.add_group_message(group.id, "clone", clone.id, clone.name, turn.reply,
                                                  usage={**ledger_row(turn), "fan_id": turn.fan_id}, status=status)
            said.append(reply)
            when = datetime.now(UTC)
            self._chat.worker.submit(functools.partial(
                self._memory.remember, clone.id, posted.speaker_id,
                [f"{posted.speaker_name} (in the group '{group.name}'): {posted.content}",
                 f"{clone.name}: {turn.reply}"],
                happened_at=[when, when], sources=[group_line_source(posted.id), group_line_source(reply.id)]))

        conversation = Conversation(("group", group.id, clone.id), history, from_the_start=False, private=False,
                                    line_source=group_line_source)
        with self._chat.worker.foreground:
            return self._chat.compose(clone, posted.speaker_id, cue, conversation, options, finish,
                                      query=posted.content)
