import strawberry


@strawberry.type
class ClassroomQuery:
    pass


@strawberry.type
class ClassroomMutation:
    pass


@strawberry.type
class ClassroomSubscription:
    pass
