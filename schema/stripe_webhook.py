"""`POST /webhooks/stripe`: a signed Stripe event in, applied once; the answer tells Stripe whether to retry.

400 for a missing, wrong or stale signature or a body that is not an event (nothing changes, and Stripe
will not fix it by retrying); 503 when webhooks are not configured; an unexpected failure rolls the event
back and answers 500, so Stripe delivers it again later.
"""

from starlette.requests import Request
from starlette.responses import JSONResponse

from core.errors import BillingUnavailable
from core.stripe import InvalidWebhook, verify_webhook
from resolvers.billing.webhooks import process_event

MAX_BODY_BYTES = 1_000_000


async def stripe_webhook(request: Request) -> JSONResponse:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return JSONResponse({"error": "payload too large"}, status_code=413)
    try:
        event = verify_webhook(body, request.headers.get("stripe-signature"))
    except BillingUnavailable as error:
        return JSONResponse({"error": error.code.value, "message": error.message}, status_code=503)
    except InvalidWebhook:
        return JSONResponse({"error": "invalid signature or payload"}, status_code=400)
    outcome = await process_event(event)
    return JSONResponse({"received": True, "outcome": outcome})
