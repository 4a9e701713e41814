"""Demo accounts for `studymate dev`, created through the real resolvers and only once."""

from dataclasses import dataclass

from core.auth import Role
from core.db import transaction
from resolvers import accounts


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    name: str
    role: str


DEMO_ACCOUNTS = (
    DemoAccount("admin@studymate.dev", "studymate-admin-1", "Admin Park", Role.ADMIN.value),
    DemoAccount("instructor@studymate.dev", "studymate-teach-1", "Instructor Choi", Role.INSTRUCTOR.value),
    DemoAccount("student@studymate.dev", "studymate-learn-1", "Student Lee", Role.STUDENT.value),
)


async def ensure_sample_data() -> list[DemoAccount]:
    for demo in DEMO_ACCOUNTS:
        async with transaction() as db:
            if await accounts.find_by_email(db, demo.email) is not None:
                continue
            result = await accounts.register(
                db, accounts.Registration(email=demo.email, password=demo.password, name=demo.name)
            )
            # Roles above STUDENT are never chosen at registration; the dev stack grants them directly.
            result.user.role = Role(demo.role)
    return list(DEMO_ACCOUNTS)
