"""The persona's records: example dialogues, interview state, proposals, character cards and the last fidelity
check."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from clonr.errors import NotFoundError
from clonr.store.database import Database, _aware, _now
from clonr.store.records import (
    Dialogue,
    Proposal,
    StoredFidelityCheck,
)
from clonr.store.schema import (
    cards,
    dialogues,
    fidelity_checks,
    interviews,
    proposals,
)


class PersonaRecords(Database):
    # -- example dialogues ---------------------------------------------------------------------

    def add_dialogues(self, clone_id: str, items: list[dict[str, Any]]) -> list[Dialogue]:
        """Insert dialogues (category, user_text, char_text, origin, optional question_id) in one transaction."""
        now = _now()  # one microsecond apart, so they list in the order given
        rows = [{"id": uuid.uuid4().hex, "clone_id": clone_id, "question_id": None, **item, "indexed": False,
                 "created_at": now + timedelta(microseconds=n), "updated_at": now + timedelta(microseconds=n)}
                for n, item in enumerate(items)]
        if rows:
            with self._transaction() as connection:
                connection.execute(dialogues.insert(), rows)
        return [self._dialogue(row) for row in rows]

    def list_dialogues(self, clone_id: str, *, unindexed: bool = False) -> list[Dialogue]:
        query = sa.select(dialogues).where(dialogues.c.clone_id == clone_id)
        if unindexed:
            query = query.where(dialogues.c.indexed.is_(False))
        with self._transaction() as connection:
            rows = connection.execute(query.order_by(dialogues.c.created_at, dialogues.c.id)).mappings().all()
        return [self._dialogue(row) for row in rows]

    def get_dialogues(self, clone_id: str, ids: list[str]) -> list[Dialogue]:
        """The clone's dialogues with these ids, in the order of `ids` (missing ones left out)."""
        with self._transaction() as connection:
            rows = connection.execute(sa.select(dialogues).where(dialogues.c.clone_id == clone_id,
                                                                 dialogues.c.id.in_(ids))).mappings().all()
        found = {row["id"]: self._dialogue(row) for row in rows}
        return [found[i] for i in ids if i in found]

    def update_dialogue(self, clone_id: str, dialogue_id: str, **fields: Any) -> Dialogue:
        unknown = set(fields) - {"category", "user_text", "char_text", "indexed"}
        if unknown:
            raise ValueError(f"unknown dialogue fields: {sorted(unknown)}")
        values = fields | ({"updated_at": _now()} if set(fields) - {"indexed"} else {})
        with self._transaction() as connection:
            result = connection.execute(dialogues.update().where(dialogues.c.clone_id == clone_id,
                                                                 dialogues.c.id == dialogue_id).values(**values))
        if result.rowcount == 0:
            raise NotFoundError(f"This clone has no example dialogue {dialogue_id!r}: list them to see the ids.")
        return self.get_dialogues(clone_id, [dialogue_id])[0]

    def mark_dialogues_indexed(self, ids: list[str]) -> None:
        if ids:
            with self._transaction() as connection:
                connection.execute(dialogues.update().where(dialogues.c.id.in_(ids)).values(indexed=True))

    def delete_dialogue(self, clone_id: str, dialogue_id: str) -> None:
        with self._transaction() as connection:
            result = connection.execute(dialogues.delete().where(dialogues.c.clone_id == clone_id,
                                                                 dialogues.c.id == dialogue_id))
        if result.rowcount == 0:
            raise NotFoundError(f"This clone has no example dialogue {dialogue_id!r}: list them to see the ids.")

    @staticmethod
    def _dialogue(row: Any) -> Dialogue:
        return Dialogue(id=row["id"], clone_id=row["clone_id"], category=row["category"], user_text=row["user_text"],
                        char_text=row["char_text"], origin=row["origin"], question_id=row["question_id"],
                        created_at=_aware(row["created_at"]), updated_at=_aware(row["updated_at"]))

    # -- interviews, proposals, cards -----------------------------------------------------------

    def interview_state(self, clone_id: str) -> dict[str, Any]:
        """The interview's pending question and follow-up, and the skipped question ids."""
        with self._transaction() as connection:
            row = connection.execute(sa.select(interviews).where(interviews.c.clone_id == clone_id)).mappings().first()
        if row is None:
            return {"pending_question": None, "pending_followup": None, "skipped": []}
        return {"pending_question": row["pending_question"], "pending_followup": row["pending_followup"],
                "skipped": json.loads(row["skipped"])}

    def save_interview_state(self, clone_id: str, pending_question: str | None, pending_followup: str | None,
                             skipped: list[str]) -> None:
        values = {"pending_question": pending_question, "pending_followup": pending_followup,
                  "skipped": json.dumps(skipped), "updated_at": _now()}
        with self._transaction() as connection:
            updated = connection.execute(interviews.update().where(interviews.c.clone_id == clone_id).values(**values))
            if updated.rowcount == 0:
                connection.execute(interviews.insert().values(clone_id=clone_id, **values))

    def add_proposal(self, clone_id: str, field: str, text: str, base_text: str,
                     evidence: list[dict[str, Any]]) -> Proposal:
        row = {"id": uuid.uuid4().hex, "clone_id": clone_id, "field": field, "text": text, "base_text": base_text,
               "evidence": json.dumps(evidence), "status": "pending", "created_at": _now()}
        with self._transaction() as connection:
            connection.execute(proposals.insert().values(**row))
        return self._proposal(row)

    def get_proposal(self, clone_id: str, proposal_id: str) -> Proposal:
        with self._transaction() as connection:
            row = connection.execute(sa.select(proposals).where(proposals.c.clone_id == clone_id,
                                                                proposals.c.id == proposal_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"This clone has no proposal {proposal_id!r}: make one with `clonr describe`.")
        return self._proposal(row)

    def list_proposals(self, clone_id: str, status: str = "pending") -> list[Proposal]:
        query = (sa.select(proposals).where(proposals.c.clone_id == clone_id, proposals.c.status == status)
                 .order_by(proposals.c.created_at))
        with self._transaction() as connection:
            return [self._proposal(row) for row in connection.execute(query).mappings().all()]

    def set_proposal_status(self, proposal_id: str, status: str) -> None:
        with self._transaction() as connection:
            connection.execute(proposals.update().where(proposals.c.id == proposal_id).values(status=status))

    @staticmethod
    def _proposal(row: Any) -> Proposal:
        return Proposal(id=row["id"], clone_id=row["clone_id"], field=row["field"], text=row["text"],
                        base_text=row["base_text"], evidence=tuple(json.loads(row["evidence"])), status=row["status"],
                        created_at=_aware(row["created_at"]))

    def get_card(self, clone_id: str) -> dict[str, Any] | None:
        with self._transaction() as connection:
            card = connection.execute(sa.select(cards.c.card).where(cards.c.clone_id == clone_id)).scalar_one_or_none()
        return None if card is None else json.loads(card)

    def save_card(self, clone_id: str, card: dict[str, Any]) -> None:
        with self._transaction() as connection:
            connection.execute(cards.delete().where(cards.c.clone_id == clone_id))
            connection.execute(cards.insert().values(clone_id=clone_id, card=json.dumps(card)))

    def save_fidelity_check(self, clone_id: str, fingerprint: str, report: dict[str, Any]) -> None:
        """Keep this check as the clone's last one (earlier checks are replaced)."""
        row = {"clone_id": clone_id, "fingerprint": fingerprint, "report": json.dumps(report), "checked_at": _now()}
        with self._transaction() as connection:
            connection.execute(fidelity_checks.delete().where(fidelity_checks.c.clone_id == clone_id))
            connection.execute(fidelity_checks.insert().values(**row))

    def last_fidelity_check(self, clone_id: str) -> StoredFidelityCheck | None:
        with self._transaction() as connection:
            row = connection.execute(sa.select(fidelity_checks).where(
                fidelity_checks.c.clone_id == clone_id)).mappings().first()
        if row is None:
            return None
        return StoredFidelityCheck(fingerprint=row["fingerprint"], report=json.loads(row["report"]),
                                   checked_at=_aware(row["checked_at"]))
