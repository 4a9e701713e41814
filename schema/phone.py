"""The signed-in user's phone for SMS: set it (a code is texted to it), then verify it with the code."""

import strawberry

from core.db import transaction
from models.base import utcnow
from resolvers import phone as phones
from schema import fields
from schema.accounts import User
from schema.context import Info


@strawberry.type
class PhoneMutation:
    @fields.mutation(
        "Sets the signed-in user's phone (E.164, like +821012345678), unverified, and texts it a 6-digit "
        "code valid for 10 minutes and 5 tries. Rate limited: 3 codes per 10 minutes."
    )
    async def update_phone(self, info: Info, phone: str) -> User:
        async with transaction() as db:
            user = await phones.update_phone(db, info.context.actor, phone, utcnow())
        return User.from_row(user)

    @fields.mutation(
        "Verifies the phone with the texted code and turns SMS on. A wrong code is BAD_USER_INPUT on "
        "`code`; an expired code, or one with no tries left, is CONFLICT: ask for a new one."
    )
    async def verify_phone(self, info: Info, code: str) -> User:
        return User.from_row(await phones.verify_phone(info.context.actor, code, utcnow()))
