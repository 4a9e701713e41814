"""The UiTarget type and input, shared by recordings (recorded events, analysed steps) and the classroom
(task steps). Both convert to and from the one stored shape, `models.classroom.UiTarget`."""

import strawberry

from models.classroom import UiTarget as StoredUiTarget


@strawberry.type
class UiTarget:
    view_id: str | None
    text: str | None
    content_description: str | None
    bounds: str | None
    package_name: str | None
    class_name: str | None

    @classmethod
    def of(cls, target: StoredUiTarget | None) -> "UiTarget | None":
        if target is None or target.stored() is None:
            return None
        return cls(**target.model_dump())


@strawberry.input
class UiTargetInput:
    view_id: str | None = None
    text: str | None = None
    content_description: str | None = None
    bounds: str | None = None
    package_name: str | None = None
    class_name: str | None = None

    def value(self) -> StoredUiTarget:
        return StoredUiTarget(
            view_id=self.view_id,
            text=self.text,
            content_description=self.content_description,
            bounds=self.bounds,
            package_name=self.package_name,
            class_name=self.class_name,
        )
