"""Typed AWS errors, named exactly as AWS names them.

Every error carries its wire ``__type`` (the class name) and HTTP status; the wire layer is
the one place that turns them into responses. Messages never contain plaintext or key
material.
"""

from __future__ import annotations

from typing import ClassVar


class AwsError(Exception):
    """An error the client is meant to see, with AWS's type name and status."""

    status: ClassVar[int] = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message
        # Set when the key-state table refused the request: the state that refused it.
        self.key_state: str | None = None

    @property
    def code(self) -> str:
        return type(self).__name__


# --- protocol and authentication (shared by every AWS JSON service) -------------------------


class SerializationException(AwsError):
    pass


class UnknownOperationException(AwsError):
    pass


class ValidationException(AwsError):
    pass


class RequestEntityTooLargeException(AwsError):
    status = 413


class RequestTimeoutException(AwsError):
    status = 408


class MissingAuthenticationTokenException(AwsError):
    pass


class IncompleteSignatureException(AwsError):
    pass


class InvalidSignatureException(AwsError):
    pass


class UnrecognizedClientException(AwsError):
    pass


class AccessDeniedException(AwsError):
    pass


class ThrottlingException(AwsError):
    pass


class InternalFailure(AwsError):
    status = 500


# --- KMS (botocore kms/2014-11-01 exception shapes) ----------------------------------------


class AlreadyExistsException(AwsError):
    pass


class DependencyTimeoutException(AwsError):
    status = 503


class DisabledException(AwsError):
    pass


class DryRunOperationException(AwsError):
    pass


class IncorrectKeyException(AwsError):
    pass


class InvalidAliasNameException(AwsError):
    pass


class InvalidArnException(AwsError):
    pass


class InvalidCiphertextException(AwsError):
    pass


class InvalidGrantIdException(AwsError):
    pass


class InvalidGrantTokenException(AwsError):
    pass


class InvalidKeyUsageException(AwsError):
    pass


class InvalidMarkerException(AwsError):
    pass


class KMSInternalException(AwsError):
    status = 500


class KMSInvalidMacException(AwsError):
    pass


class KMSInvalidSignatureException(AwsError):
    pass


class KMSInvalidStateException(AwsError):
    pass


class KeyUnavailableException(AwsError):
    status = 500


class LimitExceededException(AwsError):
    pass


class MalformedPolicyDocumentException(AwsError):
    pass


class NotFoundException(AwsError):
    pass


class TagException(AwsError):
    pass


class UnsupportedOperationException(AwsError):
    pass


class CustomKeyStoreNotFoundException(AwsError):
    pass
