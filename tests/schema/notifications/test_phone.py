"""The phone for SMS: a code texted through the local Twilio, verified once, within 5 tries and 10 minutes."""

from datetime import timedelta

import pytest

from core.auth import UserActor
from core.db import transaction
from core.errors import BadInput, Conflict
from models.base import utcnow
from resolvers import phone
from tests.helpers.client import GraphQLClient, error_code
from tests.helpers.factories import make_account
from tests.helpers.jobs import run_jobs
from tests.helpers.sms import UPDATE_PHONE, VERIFY_PHONE, configured_sms, request_code

NUMBER = "+821012345678"
PREFERENCES = "{ notificationPreferences { sms } }"


async def test_a_texted_code_verifies_the_phone_and_turns_sms_on(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with configured_sms(monkeypatch) as twilio:
        account = await make_account()
        # A number not in E.164 is refused on its field, and nothing is sent
        bad = await gql.error(UPDATE_PHONE, {"phone": "010-1234-5678"}, token=account.token)
        assert (error_code(bad), bad["extensions"]["field"]) == ("BAD_USER_INPUT", "phone")
        # Setting a good one stores it unverified and the worker texts it a 6-digit code
        set_phone = await gql.data(UPDATE_PHONE, {"phone": NUMBER}, token=account.token)
        assert set_phone["updatePhone"]["profile"] == {"phone": NUMBER, "phoneVerified": False}
        await run_jobs()
        [message] = twilio.sent
        [code] = twilio.codes_to(NUMBER)
        assert (message["From"], message["Body"]) == (
            "+15005550006",
            f"[StudyMate] 인증 코드: {code} (10분 동안 유효합니다)",
        )
        assert (await gql.data(PREFERENCES, token=account.token))["notificationPreferences"] == {"sms": False}
        # A wrong code is refused on its field
        wrong = "000000" if code != "000000" else "111111"
        refused = await gql.error(VERIFY_PHONE, {"code": wrong}, token=account.token)
        assert (error_code(refused), refused["extensions"]["field"]) == ("BAD_USER_INPUT", "code")
        # The right one verifies the phone and turns SMS on
        verified = await gql.data(VERIFY_PHONE, {"code": code}, token=account.token)
        assert verified["verifyPhone"]["profile"] == {"phone": NUMBER, "phoneVerified": True}
        assert (await gql.data(PREFERENCES, token=account.token))["notificationPreferences"] == {"sms": True}
        # and the code cannot be used again
        again = await gql.error(VERIFY_PHONE, {"code": code}, token=account.token)
        assert error_code(again) == "CONFLICT"
        # The user can turn SMS off again like any channel
        turn_off = "mutation { updateNotificationPreferences(input: {sms: false}) { sms email } }"
        assert (await gql.data(turn_off, token=account.token))["updateNotificationPreferences"] == {
            "sms": False,
            "email": True,
        }
    # Nobody else sees the phone
    other = await make_account()
    me = "{ me { profile { phone phoneVerified } } }"
    assert (await gql.data(me, token=other.token))["me"]["profile"] == {"phone": None, "phoneVerified": False}


async def test_five_wrong_codes_use_up_the_code(gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch) -> None:
    async with configured_sms(monkeypatch) as twilio:
        account = await make_account()
        code = await request_code(gql, account, twilio, NUMBER)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(phone.MAX_CODE_TRIES):
            refused = await gql.error(VERIFY_PHONE, {"code": wrong}, token=account.token)
            assert error_code(refused) == "BAD_USER_INPUT"
        # Even the right code is refused now: a new one must be asked for
        spent = await gql.error(VERIFY_PHONE, {"code": code}, token=account.token)
        assert error_code(spent) == "CONFLICT"
        assert "new one" in spent["message"]


async def test_a_code_expires_after_ten_minutes(gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch) -> None:
    async with configured_sms(monkeypatch) as twilio:
        account = await make_account()
        actor = UserActor(user_id=account.user.id, role=account.user.role)
        start = utcnow()
        async with transaction() as db:
            await phone.update_phone(db, actor, NUMBER, start)
        await run_jobs()
        [code] = twilio.codes_to(NUMBER)
        with pytest.raises(Conflict, match="expired"):
            await phone.verify_phone(actor, code, start + timedelta(minutes=10))
        # just inside the ten minutes it is still good
        with pytest.raises(BadInput):
            await phone.verify_phone(actor, "x", start + timedelta(minutes=9, seconds=59))
        user = await phone.verify_phone(actor, code, start + timedelta(minutes=9, seconds=59))
    assert user.phone_verified


async def test_codes_are_rate_limited_per_user(gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch) -> None:
    async with configured_sms(monkeypatch) as twilio:
        account = await make_account()
        for _ in range(3):
            await gql.data(UPDATE_PHONE, {"phone": NUMBER}, token=account.token)
        limited = await gql.error(UPDATE_PHONE, {"phone": NUMBER}, token=account.token)
        assert error_code(limited) == "RATE_LIMITED"
        await run_jobs()
    # The three codes let in were texted (the number is still unverified when their jobs run)
    assert len(twilio.sent) == 3
