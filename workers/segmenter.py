"""From Android accessibility events to guide steps, without AI.

`actions_from` is what every analysis sees: events mapped to the five target actions (focus changes,
content changes and other noise dropped), with the text of secret fields redacted. `segment` groups the
actions into steps a senior can follow:

- typing into one field (one event per keystroke) is one INPUT step with the final text;
- scrolling one container without pause is one SCROLL step;
- a repeated tap on the same target within a moment (a bounce or double tap) is one step;
- a screen change right after a tap is that tap's result, folded into its step;
- screen changes in a row with no action between (splash screens, redirects) count as the last one;
- any other screen change is a NAVIGATE step of its own (e.g. the recording starts in an app).
"""

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from core.text import TEXT, TITLE
from models.classroom import TargetAction, UiTarget
from models.recordings import AnalyzedStep
from resolvers.recordings.events import is_secret

REDACTED = "[redacted]"
ANDROID_ACTIONS = {
    "VIEW_CLICKED": TargetAction.CLICK,
    "VIEW_LONG_CLICKED": TargetAction.LONG_CLICK,
    "VIEW_SCROLLED": TargetAction.SCROLL,
    "VIEW_TEXT_CHANGED": TargetAction.INPUT,
    "WINDOW_STATE_CHANGED": TargetAction.NAVIGATE,
}
REPEAT_TAP = timedelta(milliseconds=600)
SCROLL_PAUSE = timedelta(seconds=3)
TAP_RESULT = timedelta(seconds=2)
_VERBS = {
    TargetAction.CLICK: "Tap",
    TargetAction.LONG_CLICK: "Press and hold",
    TargetAction.SCROLL: "Scroll",
    TargetAction.INPUT: "Type into",
    TargetAction.NAVIGATE: "Go to",
}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def action_of(event_type: str) -> TargetAction | None:
    """Android's names with or without the TYPE_ prefix; None for events that are not user actions."""
    name = event_type.strip().upper().removeprefix("TYPE_")
    return ANDROID_ACTIONS.get(name)


@dataclass(frozen=True)
class Action:
    event_id: str
    action: TargetAction
    at: datetime
    package_name: str | None
    class_name: str | None
    text: str | None
    content_description: str | None
    view_id: str | None
    bounds: str | None
    secret: bool
    data: Any = None

    @property
    def field_key(self) -> tuple[str | None, ...]:
        """What identifies the on-screen element, for telling one field or button from another."""
        return (self.package_name, self.view_id or self.bounds, self.class_name)

    def target(self) -> UiTarget:
        return UiTarget(
            view_id=self.view_id,
            text=None if self.secret else self.text,
            content_description=self.content_description,
            bounds=self.bounds,
            package_name=self.package_name,
            class_name=self.class_name,
        )

    def label(self) -> str:
        """How a senior would name the element: its words, else its description, else its id."""
        if self.text and not self.secret:
            return self.text.strip()[:60]
        if self.content_description:
            return self.content_description.strip()[:60]
        if self.view_id:
            return _humanize(self.view_id.rsplit("/", 1)[-1])
        if self.class_name:
            return _humanize(self.class_name.rsplit(".", 1)[-1])
        return "the highlighted item"


def _humanize(name: str) -> str:
    words = _CAMEL.sub(" ", name).replace("_", " ").split()
    words = [w for w in words if w.lower() not in {"activity", "fragment", "btn", "view"}] or words
    return " ".join(words).lower()


class AccessibilityEvent(Protocol):
    """An Android accessibility event as a phone reported it: a recording's event, or one a student's
    phone logged as activity (workers/help.py)."""

    @property
    def event_id(self) -> uuid.UUID: ...
    @property
    def event_type(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def package_name(self) -> str | None: ...
    @property
    def class_name(self) -> str | None: ...
    @property
    def text(self) -> str | None: ...
    @property
    def content_description(self) -> str | None: ...
    @property
    def view_id(self) -> str | None: ...
    @property
    def bounds(self) -> str | None: ...
    @property
    def is_sensitive(self) -> bool: ...
    @property
    def data(self) -> Any: ...


def actions_from(events: Sequence[AccessibilityEvent]) -> list[Action]:
    actions = []
    for event in events:
        action = action_of(event.event_type)
        if action is None:
            continue
        secret = is_secret(
            is_sensitive=event.is_sensitive,
            data=event.data,
            class_name=event.class_name,
            view_id=event.view_id,
        )
        actions.append(
            Action(
                event_id=str(event.event_id),
                action=action,
                at=event.occurred_at,
                package_name=event.package_name,
                class_name=event.class_name,
                text=REDACTED if secret and event.text else event.text,
                content_description=event.content_description,
                view_id=event.view_id,
                bounds=event.bounds,
                secret=secret,
                data=event.data,
            )
        )
    return actions


@dataclass
class _Group:
    main: Action
    last: Action
    sources: list[str] = field(default_factory=list)
    opens: Action | None = None

    def absorbs(self, action: Action) -> bool:
        """Whether `action` continues this step rather than starting the next one."""
        gap = action.at - self.last.at
        same_element = action.field_key == self.main.field_key
        kind = self.main.action
        if action.action is TargetAction.NAVIGATE:
            # A tap's result, or the last of several screen changes with no action in between.
            taps = (TargetAction.CLICK, TargetAction.LONG_CLICK)
            return (kind in taps and gap <= TAP_RESULT) or kind is TargetAction.NAVIGATE
        if action.action is not kind or not same_element:
            return False
        if kind is TargetAction.INPUT:
            return True
        if kind is TargetAction.SCROLL:
            return gap <= SCROLL_PAUSE
        return gap <= REPEAT_TAP

    def add(self, action: Action) -> None:
        self.sources.append(action.event_id)
        if action.action is TargetAction.NAVIGATE and self.main.action is not TargetAction.NAVIGATE:
            self.opens = action
            return
        if action.action in (TargetAction.INPUT, TargetAction.NAVIGATE):
            # The final text of a field, the final screen of a chain.
            self.main = action
        self.last = action


def segment(actions: Sequence[Action]) -> list[AnalyzedStep]:
    groups: list[_Group] = []
    for action in actions:
        if groups and groups[-1].absorbs(action):
            groups[-1].add(action)
        else:
            groups.append(_Group(main=action, last=action, sources=[action.event_id]))
    return [analyzed_step(group.main, group.sources, group.opens) for group in groups]


def screen_name(action: Action) -> str:
    if action.text and not action.secret:
        return action.text.strip()[:60]
    if action.class_name:
        return _humanize(action.class_name.rsplit(".", 1)[-1])
    return action.package_name or "next"


def analyzed_step(main: Action, sources: list[str], opens: Action | None = None) -> AnalyzedStep:
    """One step with guide text for seniors: one action per sentence, what to look for, what happens."""
    label = main.label()
    result = f" The {screen_name(opens)} screen opens." if opens is not None else ""
    if main.action is TargetAction.CLICK:
        title = f"Tap “{label}”"
        guide = f"Find “{label}” on the screen and tap it once, gently, with your finger.{result}"
        voice = f"Tap {label}."
    elif main.action is TargetAction.LONG_CLICK:
        title = f"Press and hold “{label}”"
        guide = f"Put your finger on “{label}” and keep it there for about one second, then let go.{result}"
        voice = f"Press and hold {label}."
    elif main.action is TargetAction.SCROLL:
        title = "Scroll to see more"
        guide = "Put your finger on the list and slide it slowly upwards. Stop when you see what you need."
        voice = "Slide the screen slowly to see more."
    elif main.action is TargetAction.INPUT and main.secret:
        title = f"Type your {label if label != REDACTED else 'password'}"
        guide = "Tap the box and type it on the keyboard. It stays hidden, and nobody else can see it."
        voice = "Type it on the keyboard."
        label = "the hidden box"
    elif main.action is TargetAction.INPUT:
        typed = (main.text or "").strip()
        title = f"Type “{typed}”" if typed else "Type in the box"
        guide = f"Tap the box, then type “{typed}” on the keyboard." if typed else "Tap the box and type."
        voice = f"Type {typed}." if typed else "Type in the box."
    else:
        name = screen_name(main)
        title = f"Go to the {name} screen"
        guide = f"Make sure the {name} screen is showing before you go on."
        voice = f"Go to the {name} screen."
    return AnalyzedStep(
        title=title[:TITLE],
        description=f"{_VERBS[main.action]} {label}.{result}"[:TEXT],
        target_action=main.action,
        target=main.target(),
        source_event_ids=sources,
        guide_text=guide[:TEXT],
        voice_guide_text=voice[:TEXT],
    )


def redact_for_prompt(actions: Sequence[Action]) -> list[dict[str, Any]]:
    """What an LLM may see of the actions: no secret text, no free-form data."""
    start = actions[0].at if actions else None
    return [
        {
            "id": a.event_id,
            "action": a.action.value,
            "seconds": round((a.at - start).total_seconds(), 2) if start else 0,
            **(a.target().stored() or {}),
            **({"sensitive": True} if a.secret else {}),
        }
        for a in actions
    ]
