"""Vectors in a Weaviate server (CLONR_VECTORS=weaviate): one Weaviate collection per Clonr collection, cosine
distance, vectors made by Clonr's embedding model (no Weaviate vectorizer). Needs Weaviate 1.32 or later.

Names. Weaviate names collections like classes (`^[A-Z][_0-9A-Za-z]*$`), so the Clonr collection
`memory_<clone>_<fan>` is reached as `Clonr_<its name, other characters as _, at most 60>_<12 hex of its
sha256>` (`collection_name`): readable in Weaviate's console, and distinct even where the readable parts collide
(`a-b`, `a_b`) or differ only in case. That name is an alias of the collection that holds the objects,
`<alias>_<8 random hex>`. `replace_all` fills a new collection and then moves the alias in one step, as pgvector
swaps in one transaction: readers see the old vectors or the new ones, never a mix or none, a failure leaves the
old ones in place (`clonr reindex` re-embeds the texts the index keeps), and vectors of a new size (another
embedding model) get a new vector index.

Objects. Weaviate ids are UUIDs: a Clonr id maps to `uuid5(_IDS, id)` (`object_uuid`), so adding an id again
overwrites it and deleting an id that is not there does nothing. Each object keeps the Clonr id (`clonr_id`),
the text, the metadata as JSON text and the id of the embedding model that made its vector (`embedding_model`),
as pgvector's rows do: adding reads one object's model and refuses another; a search checks the models of the
objects it finds. Scores are cosine similarities, 1 - Weaviate's cosine distance.

Connections. One client per server and key in each process, made on first use and closed at exit. The
client's start-up checks are skipped (they would also ask PyPI for its latest version); the server's REST
address is checked on connecting, its gRPC port by opening a TCP connection, so a wrong WEAVIATE_GRPC_PORT is
reported at once rather than after the client's retries.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import socket
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

import weaviate
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from weaviate.classes.config import Configure, DataType, Property, VectorDistances
from weaviate.classes.data import DataObject
from weaviate.classes.init import Auth
from weaviate.classes.query import Filter, MetadataQuery
from weaviate.collections import Collection
from weaviate.exceptions import (
    AuthenticationFailedError,
    InsufficientPermissionsError,
    UnexpectedStatusCodeError,
    WeaviateBaseError,
    WeaviateConnectionError,
    WeaviateGRPCUnavailableError,
    WeaviateInsertManyAllFailedError,
    WeaviateQueryError,
    WeaviateRetryError,
    WeaviateStartUpError,
    WeaviateTimeoutError,
    WeaviateUnsupportedFeatureError,
)

from clonr.errors import ConfigError, StorageError
from clonr.vectors.base import CosineVectorStore, check_model, index_model_id

_IDS = uuid.UUID("c1bcc922-50c1-4968-8d4c-1dbd17c4e73c")  # the uuid5 namespace of Clonr ids in Weaviate
_VECTOR = "embedding"  # the one named vector of every collection
_PROPERTIES = ["clonr_id", "text", "metadata", "embedding_model"]
_BATCH = 500  # objects per insert, fetch or delete request (Weaviate caps one query at 10,000 results)
_READABLE = 60  # characters of the Clonr name kept in the Weaviate name
_CLOUD_DOMAINS = (".weaviate.cloud", ".weaviate.network")  # Weaviate Cloud: gRPC at an address of its own
_PROBE_TIMEOUT_S = 2.0


def collection_name(collection: str) -> str:
    """The Weaviate name (an alias) of a Clonr collection: deterministic, valid, and one per Clonr name."""
    readable = re.sub(r"[^0-9A-Za-z]+", "_", collection)[:_READABLE]
    return f"Clonr_{readable}_{hashlib.sha256(collection.encode()).hexdigest()[:12]}"


def object_uuid(item: str) -> uuid.UUID:
    """The Weaviate id of a Clonr id: the same in every collection and every process."""
    return uuid.uuid5(_IDS, item)


# -- connections -----------------------------------------------------------------------------------------------

_CLIENTS: dict[tuple[str, int, str, int], weaviate.WeaviateClient] = {}
_CLIENTS_LOCK = threading.Lock()
_ALIASES: set[tuple[str, str]] = set()  # (url, alias) seen to exist; only `delete_collection` removes one


def _connect(url: str, grpc_port: int = 50051, api_key: str = "") -> weaviate.WeaviateClient:
    """This process's client for the server at `url`; made once (a forked process makes its own)."""
    key = (url, grpc_port, api_key, os.getpid())
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _CLIENTS[key] = _open(url, grpc_port, api_key)
    return client


def _open(url: str, grpc_port: int, api_key: str) -> weaviate.WeaviateClient:
    parts = urlsplit(url)
    secure, host = parts.scheme == "https", parts.hostname or ""
    auth = Auth.api_key(api_key) if api_key else None
    with _weaviate_errors(url, grpc_port):
        if host.endswith(_CLOUD_DOMAINS):
            if auth is None:
                raise ConfigError(f"Weaviate Cloud at {url} needs an API key: set WEAVIATE_API_KEY.")
            return weaviate.connect_to_weaviate_cloud(host, auth_credentials=auth, skip_init_checks=True)
        client = weaviate.connect_to_custom(
            http_host=host, http_port=parts.port or (443 if secure else 80), http_secure=secure, grpc_host=host,
            grpc_port=grpc_port, grpc_secure=secure, auth_credentials=auth, skip_init_checks=True)
    try:
        socket.create_connection((host, grpc_port), timeout=_PROBE_TIMEOUT_S).close()
    except OSError:
        client.close()
        raise StorageError(f"Weaviate at {url} answers, but not its gRPC port {grpc_port} on {host}: fix "
                           "WEAVIATE_GRPC_PORT, or open that port.") from None
    return client


@atexit.register
def _close_clients() -> None:
    for (*_, pid), client in list(_CLIENTS.items()):
        if pid == os.getpid():
            with suppress(Exception):
                client.close()


def _grpc_status(error: BaseException) -> str:
    """The gRPC status behind a Weaviate error (`UNAVAILABLE`, `UNAUTHENTICATED`, …), or ""; the client wraps
    the gRPC error (or only names its status in the message), and retries UNAVAILABLE before giving up."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, WeaviateRetryError):
            return "UNAVAILABLE"
        code = getattr(seen, "code", None)
        if callable(code) and (name := getattr(code(), "name", "")):
            return str(name)
        seen = seen.__cause__ or seen.__context__
    named = re.match(r"\[([A-Z_]+)\]", str(error))
    return named.group(1) if named else ""


@contextmanager
def _weaviate_errors(url: str, grpc_port: int) -> Iterator[None]:
    """The Weaviate failures a person can fix, as one-line StorageErrors (never with the API key); any other
    Weaviate error is a bug and goes up as it is."""
    unreachable = f"Weaviate at {url} is not reachable: start it or fix WEAVIATE_URL."
    no_grpc = f"Weaviate at {url} is not reachable on its gRPC port {grpc_port}: start it or fix WEAVIATE_GRPC_PORT."
    try:
        yield
    except (WeaviateConnectionError, WeaviateTimeoutError) as error:
        raise StorageError(unreachable) from error
    except WeaviateGRPCUnavailableError as error:
        raise StorageError(no_grpc) from error
    except WeaviateStartUpError as error:
        if isinstance(error.__cause__, WeaviateConnectionError | OSError) or "Could not connect" in error.message:
            raise StorageError(unreachable) from error
        raise StorageError(f"Weaviate at {url} cannot be used ({error.message.strip().splitlines()[0]}): Clonr "
                           "needs Weaviate 1.32 or later.") from error
    except WeaviateUnsupportedFeatureError as error:
        raise StorageError(f"Weaviate at {url} is too old for Clonr, which needs collection aliases: upgrade it to "
                           "1.32 or later.") from error
    except InsufficientPermissionsError as error:
        raise StorageError(f"Weaviate at {url} does not let this API key read and write Clonr_* collections and "
                           "aliases: give it those permissions, or fix WEAVIATE_API_KEY.") from error
    except (AuthenticationFailedError, UnexpectedStatusCodeError) as error:
        if isinstance(error, AuthenticationFailedError) or error.status_code == 401:
            raise StorageError(f"Weaviate at {url} refused the API key: fix WEAVIATE_API_KEY.") from error
        raise
    except WeaviateBaseError as error:
        status = _grpc_status(error)
        if status == "UNAVAILABLE":
            raise StorageError(no_grpc) from error
        if status == "UNAUTHENTICATED":
            raise StorageError(f"Weaviate at {url} refused the API key: fix WEAVIATE_API_KEY.") from error
        raise


# -- the index -------------------------------------------------------------------------------------------------

class WeaviateVectorStore(CosineVectorStore):
    """A LangChain `VectorStore` over one Weaviate collection; ids given by the caller make `add_*` an upsert."""

    def __init__(self, embedding: Embeddings, collection: str, *, url: str, grpc_port: int = 50051,
                 api_key: str = "") -> None:
        self._embedding = embedding
        self._model_id = index_model_id(embedding)
        self._collection = collection
        self._alias = collection_name(collection)
        self._url = url
        self._grpc_port = grpc_port
        self._api_key = api_key

    def __repr__(self) -> str:  # without the API key
        return f"WeaviateVectorStore({self._collection!r} at {self._url})"

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    @contextmanager
    def _client(self) -> Iterator[weaviate.WeaviateClient]:
        with _weaviate_errors(self._url, self._grpc_port):
            yield _connect(self._url, self._grpc_port, self._api_key)

    def _exists(self, client: weaviate.WeaviateClient) -> bool:
        """Whether the collection has been written to (its alias exists); a yes is remembered."""
        if (self._url, self._alias) in _ALIASES:
            return True
        if client.alias.get(alias_name=self._alias) is None:
            return False
        _ALIASES.add((self._url, self._alias))
        return True

    def _create(self, client: weaviate.WeaviateClient) -> str:
        """A new, empty collection for this Clonr collection's objects; its name."""
        name = f"{self._alias}_{uuid.uuid4().hex[:8]}"
        unindexed = {"data_type": DataType.TEXT, "index_filterable": False, "index_searchable": False}
        client.collections.create(
            name, description=f"Clonr collection {self._collection!r} (reached through the alias {self._alias})",
            properties=[Property(name=p, **unindexed) for p in _PROPERTIES],
            vector_config=Configure.Vectors.self_provided(
                name=_VECTOR, vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE)))
        return name

    def _ensure(self, client: weaviate.WeaviateClient) -> None:
        """Create the collection and its alias on the first write; a process that loses the race to create the
        alias drops its own collection and uses the winner's."""
        if self._exists(client):
            return
        name = self._create(client)
        try:
            client.alias.create(alias_name=self._alias, target_collection=name)
        except WeaviateBaseError:
            client.collections.delete(name)
            if client.alias.get(alias_name=self._alias) is None:
                raise
        _ALIASES.add((self._url, self._alias))

    def _objects(self, texts: list[str], metadatas: list[dict], ids: list[str]) -> list[DataObject]:
        """Embedded objects, one per id (the last of a repeated id wins, as in an upsert)."""
        vectors = self._embedding.embed_documents(texts)
        objects = {item: DataObject(
            properties={"clonr_id": item, "text": text, "metadata": json.dumps(meta),
                        "embedding_model": self._model_id},
            uuid=object_uuid(item), vector={_VECTOR: [float(x) for x in vector]})
            for item, text, meta, vector in zip(ids, texts, metadatas, vectors, strict=True)}
        return list(objects.values())

    def _insert(self, collection: Collection, objects: list[DataObject]) -> None:
        for start in range(0, len(objects), _BATCH):
            batch = objects[start:start + _BATCH]
            try:
                result = collection.data.insert_many(batch)
            except WeaviateInsertManyAllFailedError as error:
                raise self._refused(len(batch), len(batch), error.message) from error
            if result.has_errors:
                raise self._refused(len(result.errors), len(batch), next(iter(result.errors.values())).message)

    def _refused(self, failed: int, of: int, why: str) -> StorageError:
        why = " ".join(why.split())[:200]
        return StorageError(f"Weaviate did not store {failed} of {of} vectors of {self._collection!r} ({why}): "
                            "check the Weaviate server, or embed the clone again with `clonr reindex <clone>`.")

    @staticmethod
    def _stored_model(collection: Collection) -> str:
        found = collection.query.fetch_objects(limit=1, return_properties=["embedding_model"]).objects
        return str(found[0].properties.get("embedding_model") or "") if found else ""

    def add_texts(self, texts: Iterable[str], metadatas: list[dict] | None = None, *,
                  ids: list[str] | None = None, **kwargs: Any) -> list[str]:
        texts = list(texts)
        ids = [item or uuid.uuid4().hex for item in ids] if ids else [uuid.uuid4().hex for _ in texts]
        if not texts:
            return ids
        objects = self._objects(texts, metadatas or [{} for _ in texts], ids)
        with self._client() as client:
            self._ensure(client)
            collection = client.collections.use(self._alias)
            check_model(self._stored_model(collection), self._model_id)
            self._insert(collection, objects)
        return ids

    def replace_all(self, texts: list[str], metadatas: list[dict], ids: list[str]) -> None:
        """The collection becomes exactly these texts, embedded with the current model (which may differ from
        the one that made it, even in size): embedded first, written to a new collection, then the alias moves
        to it in one step and the old collection is dropped. A failure before the move changes nothing."""
        objects = self._objects(texts, metadatas, ids)
        with self._client() as client:
            name = self._create(client)
            try:
                self._insert(client.collections.use(name), objects)
                current = client.alias.get(alias_name=self._alias)
                if current is None or not client.alias.update(alias_name=self._alias, new_target_collection=name):
                    client.alias.create(alias_name=self._alias, target_collection=name)
            except BaseException:
                with suppress(WeaviateBaseError):
                    client.collections.delete(name)
                raise
            _ALIASES.add((self._url, self._alias))
            if current is not None and current.collection != name:
                client.collections.delete(current.collection)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        if not ids:
            return False
        with self._client() as client:
            if self._exists(client):
                collection = client.collections.use(self._alias)
                for batch in _batches([object_uuid(item) for item in dict.fromkeys(ids)]):
                    collection.data.delete_many(where=Filter.by_id().contains_any(batch))
        return True

    def delete_collection(self) -> None:
        """Remove the whole collection from Weaviate: its alias and the collection behind it."""
        with self._client() as client:
            current = client.alias.get(alias_name=self._alias)
            _ALIASES.discard((self._url, self._alias))
            if current is not None:
                client.alias.delete(alias_name=self._alias)
                client.collections.delete(current.collection)

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        if not ids:
            return []
        found: dict[str, Document] = {}
        with self._client() as client:
            if self._exists(client):
                collection = client.collections.use(self._alias)
                for batch in _batches(list(dict.fromkeys(ids))):
                    result = collection.query.fetch_objects(
                        filters=Filter.by_id().contains_any([object_uuid(item) for item in batch]),
                        limit=len(batch), return_properties=_PROPERTIES)
                    for obj in result.objects:
                        document = _document(obj.properties)
                        found[document.id or ""] = document
        return [found[item] for item in ids if item in found]

    def similarity_search_with_score_by_vector(self, embedding: list[float], k: int = 4,
                                               **kwargs: Any) -> list[tuple[Document, float]]:
        return [(_document(properties), score) for properties, score in self._nearest(embedding, k, _PROPERTIES)]

    def nearest_ids(self, embedding: list[float], k: int) -> list[tuple[str, float]]:
        return [(str(properties["clonr_id"]), score)
                for properties, score in self._nearest(embedding, k, ["clonr_id", "embedding_model"])]

    def _nearest(self, embedding: list[float], k: int, properties: list[str]) -> list[tuple[dict, float]]:
        """(properties, cosine) of the k nearest, best first (ties by id), all embedded with this model."""
        if k <= 0:
            return []
        with self._client() as client:
            if not self._exists(client):
                return []
            collection = client.collections.use(self._alias)
            try:
                result = collection.query.near_vector(
                    near_vector=[float(x) for x in embedding], limit=k, target_vector=_VECTOR,
                    return_metadata=MetadataQuery(distance=True), return_properties=properties)
            except WeaviateQueryError as error:
                if _grpc_status(error) != "UNAVAILABLE":  # a query vector of another size: vectors of another model?
                    check_model(self._stored_model(collection), self._model_id)
                raise
        found = sorted(((dict(obj.properties), 1.0 - _distance(obj.metadata.distance)) for obj in result.objects),
                       key=lambda pair: (-pair[1], str(pair[0].get("clonr_id"))))
        for properties_found, _ in found:
            check_model(str(properties_found.get("embedding_model") or ""), self._model_id)
        return found

    @classmethod
    def from_texts(cls, texts: list[str], embedding: Embeddings, metadatas: list[dict] | None = None, *,
                   ids: list[str] | None = None, url: str = "", grpc_port: int = 50051, api_key: str = "",
                   collection: str = "default", **kwargs: Any) -> WeaviateVectorStore:
        if not url:
            raise ValueError("WeaviateVectorStore.from_texts needs url=<the Weaviate server's address>")
        store = cls(embedding, collection, url=url, grpc_port=grpc_port, api_key=api_key)
        store.add_texts(texts, metadatas, ids=ids)
        return store


def _distance(distance: float | None) -> float:
    if distance is None:
        raise StorageError("Weaviate returned a search result without its distance: check the Weaviate server.")
    return float(distance)


def _document(properties: Any) -> Document:
    return Document(id=str(properties.get("clonr_id") or ""), page_content=str(properties.get("text") or ""),
                    metadata=json.loads(properties.get("metadata") or "{}"))


def _batches(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), _BATCH):
        yield items[start:start + _BATCH]
