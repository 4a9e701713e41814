"""What an operation asks for below a field, read from its syntax tree before the field is resolved."""

from collections.abc import Iterator, Mapping

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)

from schema.context import Info


def selects(info: Info, *path: str) -> bool:
    """Whether the field being resolved selects a field `path[0]` among its own, and that one a field
    `path[1]`, and so on, directly or through fragments. `@skip` and `@include` are not evaluated: a field
    they leave out still counts, so a caller may do work for nothing, never miss work."""
    raw = info._raw_info
    fields: list[FieldNode] = list(raw.field_nodes)
    for name in path:
        sets = [field.selection_set for field in fields if field.selection_set]
        fields = [field for field in _fields_in(sets, raw.fragments) if field.name.value == name]
        if not fields:
            return False
    return True


def _fields_in(
    sets: list[SelectionSetNode], fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    pending = list(sets)
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    pending.append(fragment.selection_set)
