"""The live classroom's schema: lectures, tasks and steps, live sessions, help, events and analytics.

The roots are merged from one class per area, in the order the fields appear in schema.graphql.
"""

from strawberry.tools import merge_types

from schema.classroom.analytics import AnalyticsQuery, AnalyticsSubscription
from schema.classroom.events import EventsSubscription
from schema.classroom.help import HelpMutation, HelpQuery
from schema.classroom.lectures import LecturesMutation, LecturesQuery
from schema.classroom.sessions import SessionsMutation, SessionsQuery
from schema.classroom.steps import Step
from schema.classroom.types import Lecture, LiveSession, Participant, Task

ClassroomQuery = merge_types("ClassroomQuery", (LecturesQuery, SessionsQuery, HelpQuery, AnalyticsQuery))
ClassroomMutation = merge_types("ClassroomMutation", (LecturesMutation, SessionsMutation, HelpMutation))
ClassroomSubscription = merge_types("ClassroomSubscription", (EventsSubscription, AnalyticsSubscription))

__all__ = [
    "ClassroomMutation",
    "ClassroomQuery",
    "ClassroomSubscription",
    "Lecture",
    "LiveSession",
    "Participant",
    "Step",
    "Task",
]
