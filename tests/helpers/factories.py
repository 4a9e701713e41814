"""Test data made through the real resolvers, so it is what users would have made."""

import uuid
from dataclasses import dataclass

from core.auth import Role, issue_access_token
from core.db import transaction
from models.accounts import User
from resolvers import accounts

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Account:
    user: User
    token: str
    password: str = PASSWORD

    @property
    def id(self) -> str:
        return str(self.user.id)


async def make_account(
    role: Role = Role.STUDENT, *, email: str | None = None, name: str = "Kim Min-ji"
) -> Account:
    email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
    async with transaction() as db:
        result = await accounts.register(db, accounts.Registration(email=email, password=PASSWORD, name=name))
        if role is not Role.STUDENT:
            result.user.role = role
    token, _ = issue_access_token(result.user.id, role)
    return Account(user=result.user, token=token)
