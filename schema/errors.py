"""Turns domain errors into GraphQL errors with `extensions.code`, and masks everything else."""

import logging

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from core.errors import DomainError, ErrorCode
from core.logging import request_id_var

logger = logging.getLogger("studymate.errors")


def _is_client_error(error: GraphQLError) -> bool:
    """Parse and validation errors describe the client's document; they are shown as they are."""
    return error.original_error is None


class DomainErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(error_message="Internal server error")

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [self._convert(error) for error in errors]

    def _convert(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if isinstance(original, DomainError):
            return GraphQLError(
                original.message,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions=original.extensions,
            )
        if _is_client_error(error):
            if not error.extensions or "code" not in error.extensions:
                error.extensions = {**(error.extensions or {}), "code": "GRAPHQL_VALIDATION_FAILED"}
            return error
        request_id = request_id_var.get()
        logger.error("unexpected error (request %s)", request_id, exc_info=original)
        masked = self.anonymise_error(error)
        masked.extensions = {"code": ErrorCode.INTERNAL_SERVER_ERROR.value, "requestId": request_id}
        return masked
