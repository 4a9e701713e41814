"""The one StudyMate schema: per-domain roots merged, with the platform's extensions."""

from collections.abc import Callable

from graphql import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, SchemaExtension
from strawberry.tools import merge_types

from core.settings import Settings, get_settings
from schema.accounts import AccountsMutation, AccountsQuery
from schema.billing import BillingMutation, BillingQuery
from schema.classroom import ClassroomMutation, ClassroomQuery, ClassroomSubscription
from schema.direct_resolvers import call_resolvers_directly
from schema.documents import DocumentStore, ParsedAndValidated
from schema.errors import DomainErrors, StudyMateSchema
from schema.execution import StudyMateExecutionContext
from schema.limits import depth_limit
from schema.monitor import MonitorSubscription
from schema.notifications import NotificationsMutation, NotificationsQuery, NotificationsSubscription
from schema.persisted_queries import PersistedQueries
from schema.personalization import PersonalizationQuery
from schema.phone import PhoneMutation
from schema.quizzes import QuizzesMutation, QuizzesQuery, QuizzesSubscription
from schema.recordings import RecordingsMutation, RecordingsQuery, RecordingsSubscription
from schema.response_cache import ResponseCache
from schema.scalars import SCALAR_OVERRIDES
from schema.study import StudyMutation, StudyQuery, StudySubscription
from schema.studyrooms import StudyRoomsMutation, StudyRoomsQuery, StudyRoomsSubscription
from schema.telemetry import OperationTelemetry

Query = merge_types(
    "Query",
    (
        AccountsQuery,
        ClassroomQuery,
        RecordingsQuery,
        StudyQuery,
        StudyRoomsQuery,
        QuizzesQuery,
        PersonalizationQuery,
        NotificationsQuery,
        BillingQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        AccountsMutation,
        PhoneMutation,
        ClassroomMutation,
        RecordingsMutation,
        StudyMutation,
        StudyRoomsMutation,
        QuizzesMutation,
        NotificationsMutation,
        BillingMutation,
    ),
)
Subscription = merge_types(
    "Subscription",
    (
        ClassroomSubscription,
        RecordingsSubscription,
        StudySubscription,
        QuizzesSubscription,
        StudyRoomsSubscription,
        NotificationsSubscription,
        MonitorSubscription,
    ),
)


def _extensions(settings: Settings) -> list[Callable[[], SchemaExtension] | type[SchemaExtension]]:
    """Factories, so every operation gets fresh extension instances."""
    limit_rules: list[type[ASTValidationRule]] = [
        *depth_limit(settings.graphql_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases).validation_rules,
    ]
    if not settings.graphql_introspection:
        limit_rules.append(NoSchemaIntrospectionCustomRule)
    documents = DocumentStore(
        max_tokens=settings.graphql_max_tokens,
        limit_rules=limit_rules,
        max_size=settings.graphql_parser_cache_size,
    )
    return [
        OperationTelemetry,
        DomainErrors,
        lambda: ParsedAndValidated(documents),
        # Stores a persisted query once validation (with every limit's rules) has passed.
        lambda: PersistedQueries(settings),
        # Does nothing unless RESPONSE_CACHE is set (read per request, so tests can turn it on).
        ResponseCache,
    ]


def build_schema(settings: Settings | None = None) -> StudyMateSchema:
    """The schema with the limits of `settings` (by default the environment's)."""
    schema = StudyMateSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=_extensions(settings or get_settings()),
        scalar_overrides=SCALAR_OVERRIDES,
        execution_context_class=StudyMateExecutionContext,
    )
    call_resolvers_directly(schema)
    return schema
