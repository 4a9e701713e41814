import strawberry


@strawberry.type
class RecordingsQuery:
    pass


@strawberry.type
class RecordingsMutation:
    pass


@strawberry.type
class RecordingsSubscription:
    pass
