"""Stripe offline, for the billing tests: localstripe (a real, stateful local Stripe server from PyPI) for
customers, payment methods, plans, subscriptions and invoices, behind a LOCAL HTTP FAKE of just the endpoints
localstripe lacks: Prices, Checkout sessions and Billing Meters (meter events deduplicated by identifier, and
their summaries). Every other request is passed to localstripe unchanged.

`pay(session_id)` plays the buyer on the Checkout page: a pack's session becomes paid; a subscription's gets a
real localstripe subscription (on a plan made with the price's id, paid by a test card), whose webhooks
localstripe itself signs and sends. `signed_event` signs a webhook the way Stripe does.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SECRET_KEY = "sk_test_clonr"
# localstripe, kept in memory: by default it loads /tmp/localstripe.pickle when it starts and rewrites it on every
# change, which makes one test's server read another's state (or a half-written file) and slows as state grows.
_LOCALSTRIPE = ("from localstripe import resources; resources.Store.dump_to_disk = lambda self: None; "
                "from localstripe.server import start; start()")
WEBHOOK_SECRET = "whsec_clonr_test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _nested(form: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`line_items[0][price_data][currency]=usd`) as nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in form:
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for part, following in zip(parts, [*parts[1:], None], strict=True):
            if following is None:
                node[part] = value
                break
            child = [] if following.isdigit() else {}
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(child)
                node = node[index]
            else:
                node = node.setdefault(part, child)
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_lists(v) for v in node]
    return node


@dataclass
class FakeStripeParts:
    """The state of the endpoints localstripe lacks."""

    prices: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    meters: dict[str, dict[str, Any]] = field(default_factory=dict)
    meter_events: dict[str, dict[str, Any]] = field(default_factory=dict)  # by identifier: Stripe keeps one
    meter_event_requests: int = 0
    fail_meter_events: int = 0  # refuse this many meter event requests first (Stripe down)
    lock: threading.Lock = field(default_factory=threading.Lock)


class LocalStripe:
    """localstripe and the fake in front of it; `api_base` is what STRIPE_API_BASE should be."""

    def __init__(self, localstripe_url: str, port: int) -> None:
        self.localstripe_url = localstripe_url
        self.api_base = f"http://127.0.0.1:{port}"
        self.parts = FakeStripeParts()
        self._http = httpx.Client(base_url=localstripe_url, auth=(SECRET_KEY, ""), timeout=30)

    # -- the fake's endpoints ---------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1/prices", self._create_price, methods=["POST"]),
            Route("/v1/checkout/sessions", self._create_session, methods=["POST"]),
            Route("/v1/checkout/sessions/{id}", self._get_session, methods=["GET"]),
            Route("/v1/billing/meters", self._meters, methods=["GET", "POST"]),
            Route("/v1/billing/meter_events", self._meter_event, methods=["POST"]),
            Route("/v1/billing/meters/{id}/event_summaries", self._summaries, methods=["GET"]),
            Route("/{path:path}", self._proxy, methods=["GET", "POST", "DELETE"]),
        ])

    async def _form(self, request: Request) -> dict[str, Any]:
        return _nested(parse_qsl((await request.body()).decode(), keep_blank_values=True))

    async def _create_price(self, request: Request) -> JSONResponse:
        form = await self._form(request)
        price_id = f"price_{uuid.uuid4().hex[:14]}"
        cents = float(form["unit_amount_decimal"])
        product = self._http.post("/v1/products", data={"name": form["product_data"]["name"]}).json()["id"]
        plan = self._http.post("/v1/plans", data={  # what localstripe subscribes customers to, by the same id
            "id": price_id, "product": product, "currency": form["currency"], "amount": max(1, round(cents)),
            "interval": form["recurring"]["interval"], "usage_type": "metered"})
        assert plan.status_code == 200, plan.text
        price = {"id": price_id, "object": "price", "currency": form["currency"], "unit_amount_decimal": cents,
                 "product": product, "recurring": form["recurring"], "type": "recurring"}
        self.parts.prices[price_id] = price
        return JSONResponse(price)

    async def _create_session(self, request: Request) -> JSONResponse:
        form = await self._form(request)
        session_id = f"cs_test_{uuid.uuid4().hex}"
        item = form["line_items"][0]
        amount = int(item["price_data"]["unit_amount"]) if "price_data" in item else None
        if "price" in item and item["price"] not in self.parts.prices:
            return JSONResponse({"error": {"message": f"No such price: '{item['price']}'", "type":
                                           "invalid_request_error"}}, status_code=400)
        session = {"id": session_id, "object": "checkout.session", "mode": form["mode"],
                   "customer": form.get("customer"), "metadata": form.get("metadata", {}),
                   "client_reference_id": form.get("client_reference_id"), "line_items": form["line_items"],
                   "amount_total": amount, "currency": form.get("line_items")[0].get("price_data", {}).get(
                       "currency", "usd"), "payment_status": "unpaid", "status": "open", "subscription": None,
                   "success_url": form["success_url"], "cancel_url": form["cancel_url"],
                   "url": f"{self.api_base}/pay/{session_id}"}
        self.parts.sessions[session_id] = session
        return JSONResponse(session)

    async def _get_session(self, request: Request) -> JSONResponse:
        session = self.parts.sessions.get(request.path_params["id"])
        if session is None:
            return JSONResponse({"error": {"message": "No such checkout session", "type": "invalid_request_error"}},
                                status_code=404)
        return JSONResponse(session)

    async def _meters(self, request: Request) -> JSONResponse:
        if request.method == "GET":
            return JSONResponse({"object": "list", "data": list(self.parts.meters.values()), "has_more": False,
                                 "url": "/v1/billing/meters"})
        form = await self._form(request)
        meter = {"id": f"mtr_{uuid.uuid4().hex[:14]}", "object": "billing.meter", "event_name": form["event_name"],
                 "display_name": form["display_name"], "status": "active"}
        self.parts.meters[meter["id"]] = meter
        return JSONResponse(meter)

    async def _meter_event(self, request: Request) -> JSONResponse:
        form = await self._form(request)
        with self.parts.lock:
            self.parts.meter_event_requests += 1
            if self.parts.fail_meter_events:
                self.parts.fail_meter_events -= 1
                return JSONResponse({"error": {"message": "Stripe is having a moment", "type": "api_error"}},
                                    status_code=500)
            if not any(m["event_name"] == form["event_name"] for m in self.parts.meters.values()):
                return JSONResponse({"error": {"message": "No active meter for this event_name",
                                               "type": "invalid_request_error"}}, status_code=400)
            event = self.parts.meter_events.setdefault(form["identifier"], {  # a repeat is dropped, as Stripe does
                "object": "billing.meter_event", "event_name": form["event_name"], "identifier": form["identifier"],
                "payload": form["payload"], "timestamp": int(form["timestamp"])})
        return JSONResponse(event)

    async def _summaries(self, request: Request) -> JSONResponse:
        query = request.query_params
        start, end = int(query["start_time"]), int(query["end_time"])
        total = sum(float(e["payload"]["value"]) for e in self.parts.meter_events.values()
                    if e["payload"]["stripe_customer_id"] == query["customer"] and start <= e["timestamp"] < end)
        return JSONResponse({"object": "list", "has_more": False, "url": request.url.path, "data": [
            {"id": "mtrusg_1", "object": "billing.meter_event_summary", "aggregated_value": total,
             "start_time": start, "end_time": end, "meter": request.path_params["id"]}]})

    async def _proxy(self, request: Request) -> Response:
        upstream = self._http.build_request(request.method, "/" + request.path_params["path"],
                                            params=request.query_params, content=await request.body(),
                                            headers={"Content-Type": request.headers.get("content-type", "")})
        answer = self._http.send(upstream)
        return Response(answer.content, status_code=answer.status_code, media_type="application/json")

    # -- the buyer ------------------------------------------------------------------------------

    def pay(self, session_id: str, card: str = "4242424242424242") -> dict[str, Any]:
        """Complete a Checkout session as its buyer would; the session as Stripe has it after."""
        session = self.parts.sessions[session_id]
        if session["mode"] == "subscription":
            method = self._http.post("/v1/payment_methods", data={
                "type": "card", "card[number]": card, "card[exp_month]": "12", "card[exp_year]": "2031",
                "card[cvc]": "123"}).json()["id"]
            self._http.post(f"/v1/payment_methods/{method}/attach", data={"customer": session["customer"]})
            self._http.post(f"/v1/customers/{session['customer']}",
                            data={"invoice_settings[default_payment_method]": method})
            subscription = self._http.post("/v1/subscriptions", data={
                "customer": session["customer"], "items[0][plan]": session["line_items"][0]["price"]}).json()
            session["subscription"] = subscription["id"]
        session.update(status="complete", payment_status="paid")
        return session

    def cancel_subscription(self, subscription_id: str) -> None:
        self._http.delete(f"/v1/subscriptions/{subscription_id}").raise_for_status()

    def register_webhook(self, url: str) -> None:
        """localstripe signs and sends its own events (subscriptions, invoices) to `url`."""
        self._http.post("/_config/webhooks/clonr", data={"url": url, "secret": WEBHOOK_SECRET}).raise_for_status()


def signed_event(event_type: str, obj: dict[str, Any], *, event_id: str | None = None, secret: str = WEBHOOK_SECRET,
                 at: int | None = None) -> tuple[bytes, str]:
    """A webhook delivery as Stripe makes it: the event's JSON and its `Stripe-Signature` header."""
    at = int(time.time()) if at is None else at
    payload = json.dumps({"id": event_id or f"evt_{uuid.uuid4().hex}", "object": "event", "type": event_type,
                          "created": at, "api_version": "2025-09-30.clover", "data": {"object": obj}}).encode()
    signature = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return payload, f"t={at},v1={signature}"


@contextlib.contextmanager
def local_stripe() -> Iterator[LocalStripe]:
    """localstripe in a subprocess and the fake in front of it, both on free loopback ports."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([sys.executable, "-c", _LOCALSTRIPE, "--port", str(port), "--from-scratch"],
                                   stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/v1/customers", auth=(SECRET_KEY, ""), timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        log.seek(0)
                        raise AssertionError("localstripe did not start: " + log.read().decode()[-2000:]) from None
                    time.sleep(0.1)
            with _fake_in_front(f"http://127.0.0.1:{port}", deadline) as stripe:
                yield stripe
        finally:
            process.terminate()
            process.wait(10)


@contextlib.contextmanager
def _fake_in_front(localstripe_url: str, deadline: float) -> Iterator[LocalStripe]:
    fake_port = free_port()
    stripe = LocalStripe(localstripe_url, fake_port)
    server = uvicorn.Server(uvicorn.Config(stripe.app(), host="127.0.0.1", port=fake_port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert time.monotonic() < deadline, "the Stripe fake did not start"
        time.sleep(0.05)
    try:
        yield stripe
    finally:
        server.should_exit = True
        thread.join(10)
