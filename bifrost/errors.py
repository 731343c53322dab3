"""Exceptions raised by the bifrost SDK and understood by the execution engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = [
    "BifrostError",
    "ConfigurationError",
    "DataProviderError",
    "NotInExecutionError",
    "ParameterValidationError",
    "UserError",
    "WorkflowDefinitionError",
]


class BifrostError(Exception):
    """Base class of every exception defined by the SDK."""


class UserError(BifrostError):
    """An error whose message is safe to show to every user, including organization users.

    Any other exception raised by a workflow is shown to non-admin users only as
    "An error occurred during execution".
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = str(message)

    def __str__(self) -> str:
        return self.message


class WorkflowDefinitionError(BifrostError, ValueError):
    """A ``@workflow``, ``@param`` or ``@data_provider`` declaration is invalid.

    Raised while the workspace file is imported, so discovery stores the message as the
    file's ``import_error``.
    """


class ParameterValidationError(BifrostError, ValueError):
    """Input parameters failed validation.

    ``errors`` maps each bad field name to a list of messages; every bad field is present,
    not only the first one found. It has the shape of a DRF ``ValidationError`` detail.
    """

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        self.errors: dict[str, list[str]] = {field: list(msgs) for field, msgs in errors.items()}
        summary = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in self.errors.items())
        super().__init__(f"Invalid parameters: {summary}" if summary else "Invalid parameters")


class NotInExecutionError(BifrostError, RuntimeError):
    """An execution-only API (config, secrets, oauth, context) was used outside an execution."""


class ConfigurationError(BifrostError, LookupError):
    """A secret, config value or OAuth connection the workflow asked for is not available.

    Use the constructors below so that messages read the same everywhere.
    """

    @classmethod
    def missing_secret(cls, name: str) -> ConfigurationError:
        return cls(f"Secret '{name}' is not configured for this organization or globally")

    @classmethod
    def missing_config(cls, key: str) -> ConfigurationError:
        return cls(f"Config '{key}' is not configured for this organization or globally")

    @classmethod
    def missing_oauth(cls, name: str) -> ConfigurationError:
        return cls(f"OAuth connection '{name}' is not configured for this organization or globally")

    @classmethod
    def oauth_not_connected(cls, name: str, status: str) -> ConfigurationError:
        return cls(f"OAuth connection '{name}' is not connected (status: {status})")


class DataProviderError(BifrostError, ValueError):
    """A data provider returned something other than a list of ``{label, value, metadata?}``."""
