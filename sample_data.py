"""Demo accounts and a demo lecture for `studymate dev`, created through the real resolvers and only once."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import col

from core.auth import Role, UserActor
from core.db import transaction
from models.accounts import User
from models.classroom import Lecture, TargetAction
from resolvers import accounts, classroom
from resolvers.classroom import StepDraft, UiTarget


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
DEMO_LECTURE = "Sending a photo on KakaoTalk"
KAKAO = "com.kakao.talk"
DEMO_STEPS = (
    StepDraft(
        title="Open KakaoTalk",
        target_action=TargetAction.CLICK,
        guide_text="Find the yellow speech-bubble icon on your home screen and tap it once.",
        voice_guide_text="Tap the yellow KakaoTalk icon.",
        target_hint=UiTarget(content_description="KakaoTalk", package_name="com.android.launcher3"),
    ),
    StepDraft(
        title="Open a chat",
        target_action=TargetAction.CLICK,
        guide_text="Tap the name of the person you want to send the photo to.",
        voice_guide_text="Tap your friend's name.",
        target_hint=UiTarget(view_id=f"{KAKAO}:id/chat_room_list", package_name=KAKAO),
    ),
    StepDraft(
        title="Press the plus button",
        target_action=TargetAction.CLICK,
        guide_text="At the bottom left, tap the + button next to the message box.",
        voice_guide_text="Tap the plus button at the bottom left.",
        target_hint=UiTarget(
            content_description="Menu", view_id=f"{KAKAO}:id/media_send_button", package_name=KAKAO
        ),
    ),
    StepDraft(
        title="Choose a photo and send",
        target_action=TargetAction.CLICK,
        guide_text="Tap Album, tap the photo you like, then tap Send at the bottom.",
        voice_guide_text="Choose a photo, then tap Send.",
        target_hint=UiTarget(text="Send", package_name=KAKAO),
    ),
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
    await _ensure_demo_lecture()
    return list(DEMO_ACCOUNTS)


async def _ensure_demo_lecture() -> None:
    async with transaction() as db:
        instructor = await accounts.find_by_email(db, DEMO_ACCOUNTS[1].email)
        assert isinstance(instructor, User)
        existing = await db.execute(
            select(col(Lecture.id)).where(col(Lecture.instructor_id) == instructor.id).limit(1)
        )
        if existing.first() is not None:
            return
        actor = UserActor(instructor.id, Role.INSTRUCTOR)
        lecture = await classroom.create_lecture(
            db, actor, DEMO_LECTURE, "Seniors learn to share a photo with family, step by step."
        )
        await classroom.create_task(db, actor, lecture.id, "Send a photo", None, list(DEMO_STEPS))
