"""The UiTarget type and input, shared by recordings (recorded events, analysed steps) and the classroom
(task steps). Both convert to and from the one stored shape, `models.classroom.UiTarget`."""

from collections.abc import Mapping

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
        if target is None:
            return None
        # Read straight off the model (no dumps): a step list converts hundreds of these per request.
        converted = cls(
            view_id=target.view_id,
            text=target.text,
            content_description=target.content_description,
            bounds=target.bounds,
            package_name=target.package_name,
            class_name=target.class_name,
        )
        return None if converted == _EMPTY else converted

    @classmethod
    def from_stored(cls, values: Mapping[str, str] | None) -> "UiTarget | None":
        """The stored JSON (`StoredUiTarget.stored()`, written by us) without a model per step."""
        if not values:
            return None
        converted = cls(
            view_id=values.get("view_id"),
            text=values.get("text"),
            content_description=values.get("content_description"),
            bounds=values.get("bounds"),
            package_name=values.get("package_name"),
            class_name=values.get("class_name"),
        )
        # Not the dataclass's ==, which builds two tuples: a step list converts hundreds of these.
        return None if converted.__dict__ == _EMPTY.__dict__ else converted


_EMPTY = UiTarget(
    view_id=None, text=None, content_description=None, bounds=None, package_name=None, class_name=None
)


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
