"""Ingestion jobs and their items, with progress."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from clonr.errors import NotFoundError
from clonr.store.database import Database, _aware, _now
from clonr.store.records import (
    IngestJob,
    JobItem,
)
from clonr.store.schema import (
    ingest_job_items,
    ingest_jobs,
)


class JobRecords(Database):
    # -- ingestion jobs -------------------------------------------------------------------------

    def create_job(self, job_id: str, clone_id: str, items: list[tuple[str, dict[str, Any]]]) -> IngestJob:
        now = _now()
        with self._transaction() as connection:
            connection.execute(ingest_jobs.insert().values(id=job_id, clone_id=clone_id, status="queued",
                                                           created_at=now, updated_at=now))
            connection.execute(ingest_job_items.insert(), [
                {"job_id": job_id, "position": n, "item": item, "options": json.dumps(options), "status": "pending"}
                for n, (item, options) in enumerate(items)])
        return self.get_job(job_id)

    def append_job_items(self, job_id: str, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Add items at the end of a job (pages found while crawling)."""
        with self._transaction() as connection:
            last = connection.execute(sa.select(sa.func.max(ingest_job_items.c.position))
                                      .where(ingest_job_items.c.job_id == job_id)).scalar_one()
            connection.execute(ingest_job_items.insert(), [
                {"job_id": job_id, "position": (last or 0) + 1 + n, "item": item, "options": json.dumps(options),
                 "status": "pending"} for n, (item, options) in enumerate(items)])

    def get_job(self, job_id: str) -> IngestJob:
        with self._transaction() as connection:
            job = connection.execute(sa.select(ingest_jobs).where(ingest_jobs.c.id == job_id)).mappings().first()
            if job is None:
                raise NotFoundError(f"No ingestion job {job_id!r}: run `clonr sources <clone> --jobs` to see them.")
            items = connection.execute(sa.select(ingest_job_items).where(ingest_job_items.c.job_id == job_id)
                                       .order_by(ingest_job_items.c.position)).mappings().all()
        return IngestJob(id=job["id"], clone_id=job["clone_id"], status=job["status"], claimed_by=job["claimed_by"],
                         created_at=_aware(job["created_at"]), updated_at=_aware(job["updated_at"]),
                         items=tuple(JobItem(position=i["position"], item=i["item"], options=json.loads(i["options"]),
                                             status=i["status"], detail=i["detail"], source_id=i["source_id"],
                                             chunk_count=i["chunk_count"]) for i in items))

    def list_jobs(self, clone_id: str) -> list[IngestJob]:
        query = sa.select(ingest_jobs.c.id).where(ingest_jobs.c.clone_id == clone_id).order_by(ingest_jobs.c.created_at)
        with self._transaction() as connection:
            ids = connection.execute(query).scalars().all()
        return [self.get_job(job_id) for job_id in ids]

    def set_job_status(self, job_id: str, status: str, *, only_from: tuple[str, ...] = (),
                       claimed_by: str | None = None) -> bool:
        """Move a job to `status` (only from one of `only_from`, when given; by process `claimed_by`, when
        given); whether it moved."""
        query = ingest_jobs.update().where(ingest_jobs.c.id == job_id)
        if only_from:
            query = query.where(ingest_jobs.c.status.in_(only_from))
        claim = {"claimed_by": claimed_by} if claimed_by else {}
        with self._transaction() as connection:
            return connection.execute(query.values(status=status, updated_at=_now(), **claim)).rowcount > 0

    def update_job_item(self, job_id: str, position: int, **fields: Any) -> None:
        unknown = set(fields) - {"status", "detail", "source_id", "chunk_count"}
        if unknown:
            raise ValueError(f"unknown job item fields: {sorted(unknown)}")
        with self._transaction() as connection:
            connection.execute(ingest_job_items.update().where(ingest_job_items.c.job_id == job_id,
                                                               ingest_job_items.c.position == position)
                               .values(**fields))
            connection.execute(ingest_jobs.update().where(ingest_jobs.c.id == job_id).values(updated_at=_now()))

