"""What each kind of notification is: the channels it goes out on, whether it can be muted, and its
templates in Korean and English.

A template is `str.format` text over the producer's `variables`; the HTML part is the same text,
escaped, in a small layout, so one template serves both email parts.
"""

import html
import logging
from dataclasses import dataclass

from models.notifications import Channel

logger = logging.getLogger(__name__)

LANGUAGES = ("ko", "en")


@dataclass(frozen=True)
class Template:
    title: str
    body: str


@dataclass(frozen=True)
class Kind:
    channels: tuple[Channel, ...]
    # Security and billing kinds: never muted, never capped.
    essential: bool
    templates: dict[str, Template]


_IN_APP_EMAIL = (Channel.IN_APP, Channel.EMAIL)
_IN_APP_PUSH = (Channel.IN_APP, Channel.PUSH)
# SMS for what a senior must not miss and may not see in an app or an inbox.
_IN_APP_PUSH_SMS = (Channel.IN_APP, Channel.PUSH, Channel.SMS)

KINDS: dict[str, Kind] = {
    "welcome": Kind(
        _IN_APP_EMAIL,
        essential=False,
        templates={
            "ko": Template(
                "StudyMate에 오신 것을 환영합니다",
                "{name}님, 반갑습니다! 참여 코드로 실시간 수업에 들어가거나 과목 공부를 시작해 보세요.",
            ),
            "en": Template(
                "Welcome to StudyMate",
                "Hello {name}! Join a live class with its code, or start studying a subject.",
            ),
        },
    ),
    "help_requested": Kind(
        _IN_APP_PUSH,
        essential=False,
        templates={
            "ko": Template("{participant}님이 도움을 요청했습니다", "{session}: {message}"),
            "en": Template("{participant} asked for help", "{session}: {message}"),
        },
    ),
    "help_resolved": Kind(
        _IN_APP_PUSH_SMS,
        essential=False,
        templates={
            "ko": Template("선생님이 답변했습니다", "{session}: {response}"),
            "en": Template("Your instructor answered", "{session}: {response}"),
        },
    ),
    "session_starting": Kind(
        _IN_APP_PUSH_SMS,
        essential=False,
        templates={
            "ko": Template(
                "실시간 수업이 시작되었습니다",
                "'{session}' 수업이 지금 시작되었습니다. 참여 코드로 들어오세요.",
            ),
            "en": Template(
                "Your live class has started", "'{session}' has just started. Join with its code."
            ),
        },
    ),
    "summary_ready": Kind(
        _IN_APP_PUSH,
        essential=False,
        templates={
            "ko": Template("요약이 준비되었습니다", "'{title}' 요약을 지금 읽어 보세요."),
            "en": Template("Your summary is ready", "Your summary '{title}' is ready to read."),
        },
    ),
    "essay_graded": Kind(
        _IN_APP_PUSH,
        essential=False,
        templates={
            "ko": Template("서술형 답안이 채점되었습니다", "'{title}' 점수: {score}점"),
            "en": Template("Your essay was graded", "'{title}' scored {score}."),
        },
    ),
    "goal_achieved": Kind(
        _IN_APP_EMAIL,
        essential=False,
        templates={
            "ko": Template("목표를 달성했습니다!", "축하합니다! '{goal}' 목표를 달성했어요."),
            "en": Template("Goal achieved!", "Congratulations! You reached your goal '{goal}'."),
        },
    ),
    "payment_succeeded": Kind(
        _IN_APP_EMAIL,
        essential=True,
        templates={
            "ko": Template("결제가 완료되었습니다", "{plan} 요금제 {amount} 결제가 완료되었습니다."),
            "en": Template("Payment received", "We received your payment of {amount} for {plan}."),
        },
    ),
    "payment_failed": Kind(
        (Channel.IN_APP, Channel.EMAIL, Channel.SMS),
        essential=True,
        templates={
            "ko": Template(
                "결제에 실패했습니다",
                "{plan} 요금제 {amount} 결제에 실패했습니다. 결제 포털에서 결제 수단을 바꿔 주세요.",
            ),
            "en": Template(
                "Your payment did not go through",
                "We could not charge {amount} for {plan}. "
                "Please update your payment method in the billing portal.",
            ),
        },
    ),
    "trial_ending": Kind(
        _IN_APP_EMAIL,
        essential=True,
        templates={
            "ko": Template("무료 체험이 곧 끝납니다", "{plan} 무료 체험이 {date}에 끝납니다."),
            "en": Template("Your trial ends soon", "Your {plan} trial ends on {date}."),
        },
    ),
}

_FOOTER = {
    "ko": "알림 설정은 StudyMate 앱에서 바꿀 수 있습니다.",
    "en": "You can change which notifications you get in the StudyMate app.",
}


@dataclass(frozen=True)
class Rendered:
    title: str
    # What the in-app and push copies show.
    body: str
    # The email's two parts: the body with a footer, as plain text and as HTML.
    email_text: str
    html: str


class _Variables(dict[str, object]):
    """A missing variable renders empty (and is logged) rather than failing the producer's transaction."""

    def __missing__(self, key: str) -> str:
        logger.warning("notification template variable %r was not given", key)
        return ""


def language_of(profile_language: str) -> str:
    """The template language for a profile's language tag (`ko`, `en-US`, …); Korean is the default."""
    primary = profile_language.split("-", 1)[0].lower()
    return primary if primary in LANGUAGES else "en" if primary else "ko"


def render(kind: Kind, profile_language: str, variables: dict[str, object]) -> Rendered:
    language = language_of(profile_language)
    template = kind.templates[language]
    values = _Variables(variables)
    title = template.title.format_map(values).strip()[:200]
    body = template.body.format_map(values).strip()[:1800]
    page = (
        f'<!doctype html><html lang="{language}"><body style="font-family:sans-serif;line-height:1.5">'
        f'<h1 style="font-size:20px">{html.escape(title)}</h1>'
        f"<p>{html.escape(body).replace(chr(10), '<br>')}</p>"
        f'<p style="color:#888;font-size:12px">{html.escape(_FOOTER[language])}</p></body></html>'
    )
    return Rendered(title=title, body=body, email_text=f"{body}\n\n--\n{_FOOTER[language]}", html=page)
