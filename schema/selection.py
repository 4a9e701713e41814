"""What an operation asks for below a field, read from its syntax tree before the field is resolved."""

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode

from schema.context import Info


def selects(info: Info, name: str) -> bool:
    """Whether the field being resolved selects a field `name` among its own, directly or through
    fragments. `@skip` and `@include` are not evaluated: a field they leave out still counts, so a caller
    may do work for nothing, never miss work."""
    raw = info._raw_info
    pending: list[SelectionSetNode] = [node.selection_set for node in raw.field_nodes if node.selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                if selection.name.value == name:
                    return True
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = raw.fragments.get(selection.name.value)
                if fragment is not None:
                    pending.append(fragment.selection_set)
    return False
