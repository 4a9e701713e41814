"""The live classroom's operations: lectures, tasks and steps, live sessions, help, live streams, analytics.

One module per area (see each module's docstring); the operations other domains, the sample data and
the tests call are importable from here as well.
"""

from models.classroom import ProgressStatus, TargetAction, UiTarget
from resolvers.classroom.access import GUEST, INSTRUCTOR, Action, Viewer, ViewerRole, own_lecture, owns
from resolvers.classroom.analytics import SessionAnalytics, StuckReason, analyse, session_analytics
from resolvers.classroom.help import (
    acknowledge_help_request,
    list_help_requests,
    rate_help,
    request_help,
    resolve_help_request,
)
from resolvers.classroom.lectures import (
    archive_lecture,
    create_lecture,
    enroll,
    get_lecture,
    list_lectures,
    read_lecture,
    read_lecture_tree,
    update_lecture,
)
from resolvers.classroom.loaders import live_steps_by_task
from resolvers.classroom.progress import report_progress
from resolvers.classroom.sessions import (
    JOIN_CODE_ALPHABET,
    JoinResult,
    control,
    create_live_session,
    find_session,
    heartbeat,
    join_session,
    join_url,
    leave_session,
    send_instructor_message,
)
from resolvers.classroom.tasks import (
    StepDraft,
    add_step,
    create_task,
    get_task,
    remove_step,
    reorder_steps,
    update_step,
)

__all__ = [
    "GUEST",
    "INSTRUCTOR",
    "JOIN_CODE_ALPHABET",
    "Action",
    "JoinResult",
    "ProgressStatus",
    "SessionAnalytics",
    "StepDraft",
    "StuckReason",
    "TargetAction",
    "UiTarget",
    "Viewer",
    "ViewerRole",
    "acknowledge_help_request",
    "add_step",
    "analyse",
    "archive_lecture",
    "control",
    "create_lecture",
    "create_live_session",
    "create_task",
    "enroll",
    "find_session",
    "get_lecture",
    "get_task",
    "heartbeat",
    "join_session",
    "join_url",
    "leave_session",
    "list_help_requests",
    "list_lectures",
    "live_steps_by_task",
    "own_lecture",
    "owns",
    "rate_help",
    "read_lecture",
    "read_lecture_tree",
    "remove_step",
    "reorder_steps",
    "report_progress",
    "request_help",
    "resolve_help_request",
    "send_instructor_message",
    "session_analytics",
    "update_lecture",
    "update_step",
]
