import uuid
from datetime import datetime

import strawberry

import models.accounts as rows
from core import auth
from core.db import read_connection, read_session, transaction
from core.ratelimit import LOGIN, REGISTER, client_key
from resolvers import accounts
from schema import fields
from schema.context import Info

Role = strawberry.enum(auth.Role, name="Role")
DigitalLevel = strawberry.enum(rows.DigitalLevel, name="DigitalLevel")


@strawberry.type
class Profile:
    bio: str | None
    timezone: str
    language: str
    total_study_minutes: int
    streak_days: int
    owner_id: strawberry.Private[str]
    stored_phone: strawberry.Private[str | None]
    stored_phone_verified: strawberry.Private[bool]

    @fields.field("The E.164 phone for SMS; only the user themself sees it (null to others).")
    def phone(self, info: Info) -> str | None:
        return self.stored_phone if _is_owner(self.owner_id, info) else None

    @fields.field("Whether the phone was verified by its SMS code; false to others.")
    def phone_verified(self, info: Info) -> bool:
        return self.stored_phone_verified and _is_owner(self.owner_id, info)


def _is_owner(user_id: str, info: Info) -> bool:
    viewer = info.context.principal
    return isinstance(viewer, auth.UserActor) and str(viewer.user_id) == user_id


EMAIL_DESCRIPTION = (
    "The user's email address, shown only to that user and to admins; everyone else gets an empty "
    "string (the field stays non-null so that a lecture still shows its instructor's name and id)."
)


def _visible_email(root: "User", info: Info) -> str:
    # `email: String!` is the contract, so a hidden address can be neither null nor an error: an error on
    # a non-null field nulls its nearest nullable parent, which would take whole lectures and sessions
    # away from students for their instructor's address. The empty string is documented in the schema.
    viewer = info.context.principal
    if root.shown_to_viewer or (
        isinstance(viewer, auth.UserActor) and (viewer.is_admin or str(viewer.user_id) == root.id)
    ):
        return root.address
    return ""


@strawberry.type
class User:
    id: strawberry.ID
    email: str = strawberry.field(resolver=_visible_email, description=EMAIL_DESCRIPTION)
    name: str
    role: Role
    digital_level: DigitalLevel | None
    created_at: datetime
    profile: Profile
    address: strawberry.Private[str]
    # The account a sign-in or registration just authenticated, whose request carries no token yet.
    shown_to_viewer: strawberry.Private[bool] = False

    @classmethod
    def from_row(cls, user: rows.User | rows.UserRecord, *, shown_to_viewer: bool = False) -> "User":
        return cls(
            id=strawberry.ID(str(user.id)),
            address=user.email,
            shown_to_viewer=shown_to_viewer,
            name=user.name,
            role=user.role,
            digital_level=user.digital_level,
            created_at=user.created_at,
            profile=Profile(
                bio=user.bio,
                timezone=user.timezone,
                language=user.language,
                total_study_minutes=user.total_study_minutes,
                streak_days=user.streak_days,
                owner_id=str(user.id),
                stored_phone=user.phone,
                stored_phone_verified=user.phone_verified,
            ),
        )


async def load_users(ids: list[str]) -> list[User | None]:
    """Batch function for `info.context.loader(load_users)`, used wherever another type points at a user."""
    async with read_connection() as db:
        found = await accounts.users_by_ids(db, [uuid.UUID(i) for i in ids])
    return [User.from_row(user) if user else None for user in found]


@strawberry.type
class AuthPayload:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User

    @classmethod
    def from_result(cls, result: accounts.AuthResult) -> "AuthPayload":
        return cls(
            access_token=result.access_token,
            refresh_token=result.refresh_token,
            expires_in=result.expires_in,
            user=User.from_row(result.user, shown_to_viewer=True),
        )


@strawberry.input
class RegisterInput:
    email: str
    password: str
    name: str
    digital_level: DigitalLevel | None = None
    instructor_invite_code: str | None = None


@strawberry.input
class ProfileInput:
    name: str | None = None
    bio: str | None = None
    timezone: str | None = None
    language: str | None = None
    digital_level: DigitalLevel | None = None


def _client(info: Info) -> accounts.ClientInfo:
    return accounts.ClientInfo(
        ip_address=info.context.client_ip, user_agent=info.context.request.headers.get("user-agent")
    )


async def _me(info: Info) -> User | None:
    async with read_session() as db:
        user = await accounts.current_user(db, info.context.actor)
    return User.from_row(user) if user else None


@strawberry.type
class AccountsQuery:
    me: User | None = strawberry.field(resolver=_me, description="The signed-in user; null when anonymous.")


@strawberry.type
class AccountsMutation:
    @strawberry.mutation
    async def register(self, info: Info, input: RegisterInput) -> AuthPayload:
        registration = accounts.Registration(
            email=input.email,
            password=input.password,
            name=input.name,
            digital_level=input.digital_level,
            instructor_invite_code=input.instructor_invite_code,
        )
        async with REGISTER.attempt(client_key(info.context.client_ip)), transaction() as db:
            result = await accounts.register(db, registration)
        return AuthPayload.from_result(result)

    @strawberry.mutation
    async def login(self, info: Info, email: str, password: str) -> AuthPayload:
        async with LOGIN.attempt(client_key(info.context.client_ip)):
            result = await accounts.login(email, password, _client(info))
        return AuthPayload.from_result(result)

    @strawberry.mutation
    async def refresh_token(self, refresh_token: str) -> AuthPayload:
        return AuthPayload.from_result(await accounts.refresh(refresh_token))

    @strawberry.mutation
    async def logout(self, refresh_token: str) -> bool:
        async with transaction() as db:
            return await accounts.logout(db, refresh_token)

    @strawberry.mutation
    async def update_profile(self, info: Info, input: ProfileInput) -> User:
        changes = accounts.ProfileChanges(
            name=input.name,
            bio=input.bio,
            timezone=input.timezone,
            language=input.language,
            digital_level=input.digital_level,
        )
        async with transaction() as db:
            user = await accounts.update_profile(db, info.context.actor, changes)
        return User.from_row(user)

    @strawberry.mutation
    async def change_password(self, info: Info, current_password: str, new_password: str) -> bool:
        async with transaction() as db:
            return await accounts.change_password(db, info.context.actor, current_password, new_password)
