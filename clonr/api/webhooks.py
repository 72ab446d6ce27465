"""Webhooks from payment providers: `POST /webhooks/stripe`. (No postponed annotations here: FastAPI reads them.)

The body is read raw (the signature covers its exact bytes) and handed to `Payments.handle_webhook`. A refused
webhook gets 400 and changes nothing; a failure to read Stripe back gets 503, so Stripe delivers it again.
"""


from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from clonr.app import Clonr
from clonr.billing import WebhookRefusedError
from clonr.errors import PaymentError

__all__ = ["mount_webhooks"]

LARGEST_EVENT = 512 * 1024  # Stripe's events are a few kilobytes


def mount_webhooks(api: FastAPI, app: Clonr) -> None:
    @api.post("/webhooks/stripe", include_in_schema=False)
    async def stripe_webhook(request: Request) -> JSONResponse:
        payload = await request.body()
        if len(payload) > LARGEST_EVENT:
            return JSONResponse({"error": "The webhook's body is too large for a Stripe event."}, status_code=413)
        try:
            result = await run_in_threadpool(app.payments.handle_webhook, payload,
                                             request.headers.get("stripe-signature"))
        except WebhookRefusedError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except PaymentError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        return JSONResponse({"received": True, "outcome": result.outcome})
