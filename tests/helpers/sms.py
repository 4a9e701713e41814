"""What the SMS tests share: Twilio settings pointed at the local Twilio, and a phone verified by the real
flow (updatePhone, the code job, verifyPhone)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from core.settings import get_settings
from tests.helpers.client import GraphQLClient
from tests.helpers.factories import Account
from tests.helpers.fake_twilio_server import ACCOUNT_SID, AUTH_TOKEN, SMS_FROM, FakeTwilio, fake_twilio_server
from tests.helpers.jobs import run_jobs

UPDATE_PHONE = "mutation($phone: String!) { updatePhone(phone: $phone) { profile { phone phoneVerified } } }"
VERIFY_PHONE = "mutation($code: String!) { verifyPhone(code: $code) { profile { phone phoneVerified } } }"


@asynccontextmanager
async def configured_sms(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTwilio]:
    async with fake_twilio_server() as fake:
        settings = get_settings()
        monkeypatch.setattr(settings, "twilio_account_sid", ACCOUNT_SID)
        monkeypatch.setattr(settings, "twilio_auth_token", AUTH_TOKEN)
        monkeypatch.setattr(settings, "sms_from", SMS_FROM)
        monkeypatch.setattr(settings, "twilio_base_url", fake.url)
        yield fake


async def request_code(gql: GraphQLClient, account: Account, twilio: FakeTwilio, phone: str) -> str:
    """Sets the phone and returns the code the worker texted to it."""
    await gql.data(UPDATE_PHONE, {"phone": phone}, token=account.token)
    await run_jobs()
    return twilio.codes_to(phone)[-1]


async def verified_phone(gql: GraphQLClient, account: Account, twilio: FakeTwilio, phone: str) -> None:
    code = await request_code(gql, account, twilio, phone)
    verified = await gql.data(VERIFY_PHONE, {"code": code}, token=account.token)
    assert verified["verifyPhone"]["profile"] == {"phone": phone, "phoneVerified": True}
