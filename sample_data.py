"""Demo accounts, a demo lecture, demo subjects and quizzes for `studymate dev`, made through the real
resolvers and only once."""

from dataclasses import dataclass
from functools import partial

from sqlalchemy import func, select
from sqlmodel import col

from core.auth import Role, UserActor
from core.db import transaction
from models.accounts import User
from models.classroom import Lecture, TargetAction
from models.quizzes import KeyPair, Quiz, QuizType
from models.study import Difficulty, Subject
from resolvers import accounts, classroom
from resolvers.classroom import StepDraft, UiTarget
from resolvers.quizzes.authoring import ChoiceDraft, QuizDraft, create_quiz
from resolvers.study.subjects import SubjectDraft, create_subject


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

DEMO_SUBJECTS = (
    SubjectDraft(
        name="Smartphone Basics",
        category="Digital Skills",
        description="Calls, messages, photos and settings on an Android phone, one small step at a time.",
        default_difficulty=Difficulty.EASY,
        tags=["android", "messaging", "photos"],
    ),
    SubjectDraft(
        name="Everyday English",
        category="Languages",
        description="Greetings, shopping and travel phrases for Korean speakers.",
        tags=["english", "conversation", "travel"],
    ),
    SubjectDraft(
        name="Personal Finance",
        category="Life Skills",
        description="Budgets, savings, and spotting scam messages before they cost money.",
        default_difficulty=Difficulty.MEDIUM,
        requires_premium=True,
        tags=["money", "budgeting", "safety"],
    ),
    SubjectDraft(
        name="Korean History",
        category="History",
        description="From Gojoseon to the modern republic: the people, places and turning points.",
        default_difficulty=Difficulty.HARD,
        tags=["korea", "joseon", "culture"],
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
    await _ensure_demo_subjects()
    await _ensure_demo_quizzes()
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


async def _ensure_demo_subjects() -> None:
    async with transaction() as db:
        admin = await accounts.find_by_email(db, DEMO_ACCOUNTS[0].email)
        assert isinstance(admin, User)
        actor = UserActor(admin.id, Role.ADMIN)
        existing = set((await db.execute(select(func.lower(col(Subject.name))))).scalars())
        for draft in DEMO_SUBJECTS:
            if draft.name.lower() not in existing:
                await create_subject(db, actor, draft)


def _demo_quizzes(subject: Subject) -> list[QuizDraft]:
    """One quiz of each objective type, so a newcomer can try every answer shape in GraphiQL."""
    quiz = partial(QuizDraft, subject_id=subject.id, difficulty=Difficulty.EASY, topic="photos")
    return [
        quiz(
            type=QuizType.MULTIPLE_CHOICE,
            question="Which button attaches a photo in a KakaoTalk chat?",
            choices=[ChoiceDraft("The + button", True), ChoiceDraft("The bell", False)],
        ),
        quiz(
            type=QuizType.TRUE_FALSE,
            question="A photo is sent as soon as you tap it in the album.",
            answer_boolean=False,
        ),
        quiz(
            type=QuizType.SHORT_ANSWER,
            question="Which button do you tap last to send the photo?",
            accepted_answers=["Send", "전송"],
        ),
        quiz(
            type=QuizType.FILL_BLANK,
            question="Tap ___, choose a photo, then tap ___.",
            blank_answers=[["Album", "앨범"], ["Send", "전송"]],
        ),
        quiz(
            type=QuizType.MATCHING,
            question="Match each button with what it does.",
            pairs=[KeyPair(left="+", right="Attach"), KeyPair(left="Send", right="Deliver the message")],
        ),
    ]


async def _ensure_demo_quizzes() -> None:
    async with transaction() as db:
        instructor = await accounts.find_by_email(db, DEMO_ACCOUNTS[1].email)
        assert isinstance(instructor, User)
        if (await db.execute(select(col(Quiz.id)).limit(1))).first() is not None:
            return
        basics = DEMO_SUBJECTS[0].name.lower()
        subject = (
            await db.execute(select(Subject).where(func.lower(col(Subject.name)) == basics))
        ).scalar_one()
        actor = UserActor(instructor.id, Role.INSTRUCTOR)
        for draft in _demo_quizzes(subject):
            await create_quiz(db, actor, draft)
