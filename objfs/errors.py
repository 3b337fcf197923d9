"""The one error vocabulary of objfs.

Every error the store raises is an ``ObjfsError`` subclass carrying its S3
error code, HTTP status and the errno the mount maps it to. Adapters never
invent their own: the CLI prints ``str(err)`` on one line and exits 1, the
FUSE layer raises ``FUSEError(err.errno)``, the HTTP API (later) renders
``err.code`` / ``err.status``.
"""

from __future__ import annotations

import errno as _errno


class ObjfsError(Exception):
    """Base of all expected errors: a user mistake or a refused request."""

    code = "InternalError"
    status = 500
    errno = _errno.EIO

    def __init__(self, message: str | None = None, **details: object) -> None:
        self.message = message or self.default_message()
        self.details = details
        super().__init__(self.message)

    def default_message(self) -> str:
        return self.code

    def __str__(self) -> str:
        return self.message


# One class per S3 error code (its code, HTTP status and errno, nothing else),
# declared as a real class so type checkers can use it in annotations.
# Keep alphabetical within a group.
class AccessDenied(ObjfsError):
    """Refused by policy, ACL or key."""

    code = "AccessDenied"
    status = 403
    errno = _errno.EACCES


class AccessControlListNotSupported(ObjfsError):
    """The bucket does not allow ACLs (BucketOwnerEnforced)."""

    code = "AccessControlListNotSupported"
    status = 400
    errno = _errno.EPERM


class AccessForbidden(ObjfsError):
    """CORS request not allowed."""

    code = "AccessForbidden"
    status = 403
    errno = _errno.EACCES


class AuthorizationHeaderMalformed(ObjfsError):
    """Authorization header or pre-signed query malformed."""

    code = "AuthorizationHeaderMalformed"
    status = 400
    errno = _errno.EACCES


class BackendUnavailable(ObjfsError):
    """The chunk store's backend (an S3 server) stayed unreachable after retries."""

    code = "SlowDown"
    status = 503
    errno = _errno.EIO


class ChunkInCollection(ObjfsError):
    """gc is deleting a chunk a write needs (objfs/store/chunkgc.py): retry."""

    code = "SlowDown"
    status = 503
    errno = _errno.EAGAIN


class BucketAlreadyExists(ObjfsError):
    """Bucket name taken."""

    code = "BucketAlreadyExists"
    status = 409
    errno = _errno.EEXIST


class BucketNotEmpty(ObjfsError):
    """Bucket has versions."""

    code = "BucketNotEmpty"
    status = 409
    errno = _errno.ENOTEMPTY


class ConditionalRequestConflict(ObjfsError):
    """The object changed since the edit began."""

    code = "ConditionalRequestConflict"
    status = 409
    errno = _errno.ESTALE  # close()/fsync() of an edit whose base was replaced meanwhile


class EntityAlreadyExists(ObjfsError):
    """User or key exists."""

    code = "EntityAlreadyExists"
    status = 409
    errno = _errno.EEXIST


class EntityTooLarge(ObjfsError):
    """Upload too large."""

    code = "EntityTooLarge"
    status = 400
    errno = _errno.EFBIG


class EntityTooSmall(ObjfsError):
    """Part too small."""

    code = "EntityTooSmall"
    status = 400
    errno = _errno.EINVAL


class IntegrityError(ObjfsError):
    """Stored data is damaged."""

    code = "InternalError"
    status = 500
    errno = _errno.EIO


class InternalError(ObjfsError):
    """Unexpected failure."""

    code = "InternalError"
    status = 500
    errno = _errno.EIO


class IncorrectNumberOfFilesInPostRequest(ObjfsError):
    """POST requires exactly one file upload per request."""

    code = "IncorrectNumberOfFilesInPostRequest"
    status = 400
    errno = _errno.EINVAL


class InvalidAccessKeyId(ObjfsError):
    """No such active access key."""

    code = "InvalidAccessKeyId"
    status = 403
    errno = _errno.EACCES


class InvalidArgument(ObjfsError):
    """Bad argument."""

    code = "InvalidArgument"
    status = 400
    errno = _errno.EINVAL


class InvalidBucketName(ObjfsError):
    """Bucket name breaks a rule."""

    code = "InvalidBucketName"
    status = 400
    errno = _errno.EINVAL


class InvalidBucketState(ObjfsError):
    """Not allowed in this state."""

    code = "InvalidBucketState"
    status = 409
    errno = _errno.EINVAL


class InvalidBucketAclWithObjectOwnership(ObjfsError):
    """Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting."""

    code = "InvalidBucketAclWithObjectOwnership"
    status = 400
    errno = _errno.EINVAL


class InvalidPart(ObjfsError):
    """Part missing or ETag differs."""

    code = "InvalidPart"
    status = 400
    errno = _errno.EINVAL


class InvalidPartOrder(ObjfsError):
    """Parts not ascending."""

    code = "InvalidPartOrder"
    status = 400
    errno = _errno.EINVAL


class InvalidPolicyDocument(ObjfsError):
    """The POST form's policy document is not valid."""

    code = "InvalidPolicyDocument"
    status = 400
    errno = _errno.EINVAL


class InvalidRange(ObjfsError):
    """Range not satisfiable."""

    code = "InvalidRange"
    status = 416
    errno = _errno.EINVAL


class InvalidTag(ObjfsError):
    """A tag breaks a rule."""

    code = "InvalidTag"
    status = 400
    errno = _errno.EINVAL


class InvalidRequest(ObjfsError):
    """Bad request."""

    code = "InvalidRequest"
    status = 400
    errno = _errno.EINVAL


class InvalidURI(ObjfsError):
    """Couldn't parse the specified URI."""

    code = "InvalidURI"
    status = 400
    errno = _errno.EINVAL


class InvalidTargetBucketForLogging(ObjfsError):
    """The logging target bucket is missing or does not accept log delivery."""

    code = "InvalidTargetBucketForLogging"
    status = 400
    errno = _errno.EINVAL


class KeyTooLong(ObjfsError):
    """Key over 1024 bytes."""

    code = "KeyTooLongError"
    status = 400
    errno = _errno.ENAMETOOLONG


class LimitExceeded(ObjfsError):
    """A limit would be exceeded."""

    code = "LimitExceeded"
    status = 409
    errno = _errno.EDQUOT


class MalformedPOSTRequest(ObjfsError):
    """The body of your POST request is not well-formed multipart/form-data."""

    code = "MalformedPOSTRequest"
    status = 400
    errno = _errno.EINVAL


class MaxPostPreDataLengthExceeded(ObjfsError):
    """Your POST request fields preceding the upload file were too large."""

    code = "MaxPostPreDataLengthExceededError"
    status = 400
    errno = _errno.EINVAL


class MetadataTooLarge(ObjfsError):
    """User metadata over 2 KB."""

    code = "MetadataTooLarge"
    status = 400
    errno = _errno.ENOSPC  # setxattr: no room left for the attribute


class InvalidRetentionPeriod(ObjfsError):
    """The retention period must be a positive whole number of days or years."""

    code = "InvalidRetentionPeriod"
    status = 400
    errno = _errno.EINVAL


class ObjectLockConfigurationNotFoundError(ObjfsError):
    """Object Lock configuration does not exist for this bucket"""

    code = "ObjectLockConfigurationNotFoundError"
    status = 404
    errno = _errno.ENODATA


class MalformedPolicy(ObjfsError):
    """Policy is not valid."""

    code = "MalformedPolicy"
    status = 400
    errno = _errno.EINVAL


class MethodNotAllowed(ObjfsError):
    """Not allowed on a delete marker."""

    code = "MethodNotAllowed"
    status = 405
    errno = _errno.ENOENT


class NoSuchBucket(ObjfsError):
    """No such bucket."""

    code = "NoSuchBucket"
    status = 404
    errno = _errno.ENOENT


class NoSuchBucketPolicy(ObjfsError):
    """The bucket has no policy."""

    code = "NoSuchBucketPolicy"
    status = 404
    errno = _errno.ENOENT


class OwnershipControlsNotFoundError(ObjfsError):
    """The bucket ownership controls were not found."""

    code = "OwnershipControlsNotFoundError"
    status = 404
    errno = _errno.ENOENT


class NoSuchPublicAccessBlockConfiguration(ObjfsError):
    """The bucket has no public access block configuration."""

    code = "NoSuchPublicAccessBlockConfiguration"
    status = 404
    errno = _errno.ENOENT


class NoSuchObjectLockConfiguration(ObjfsError):
    """The specified object does not have a ObjectLock configuration"""

    code = "NoSuchObjectLockConfiguration"
    status = 404
    errno = _errno.ENODATA


class NoSuchEntity(ObjfsError):
    """No such user or key."""

    code = "NoSuchEntity"
    status = 404
    errno = _errno.ENOENT


class NoSuchKey(ObjfsError):
    """No such key."""

    code = "NoSuchKey"
    status = 404
    errno = _errno.ENOENT


class NoSuchTagSet(ObjfsError):
    """The TagSet does not exist"""

    code = "NoSuchTagSet"
    status = 404
    errno = _errno.ENOENT


class NoSuchUpload(ObjfsError):
    """No such upload."""

    code = "NoSuchUpload"
    status = 404
    errno = _errno.ENOENT


class NoSuchVersion(ObjfsError):
    """No such version."""

    code = "NoSuchVersion"
    status = 404
    errno = _errno.ENOENT


class NotModified(ObjfsError):
    """Not modified."""

    code = "NotModified"
    status = 304
    errno = _errno.EAGAIN


class PreconditionFailed(ObjfsError):
    """Precondition failed."""

    code = "PreconditionFailed"
    status = 412
    errno = _errno.EAGAIN


class SignatureDoesNotMatch(ObjfsError):
    """The request signature does not match."""

    code = "SignatureDoesNotMatch"
    status = 403
    errno = _errno.EACCES


class StoreNotFound(ObjfsError):
    """No objfs store at that path."""

    code = "StoreNotFound"
    status = 500
    errno = _errno.ENOENT


class StoreFormatError(ObjfsError):
    """Store format not supported."""

    code = "StoreFormatError"
    status = 500
    errno = _errno.EIO


class StoreFull(ObjfsError):
    """No space left."""

    code = "InsufficientStorage"
    status = 507
    errno = _errno.ENOSPC


class UnresolvableGrantByEmailAddress(ObjfsError):
    """No user has the e-mail address of a grant."""

    code = "UnresolvableGrantByEmailAddress"
    status = 400
    errno = _errno.EINVAL


class KMSAlreadyExists(ObjfsError):
    """KMS alias exists."""

    code = "KMS.AlreadyExistsException"
    status = 400
    errno = _errno.EEXIST


class KMSDisabled(ObjfsError):
    """KMS key disabled."""

    code = "KMS.DisabledException"
    status = 400
    errno = _errno.EACCES


class KMSNotFound(ObjfsError):
    """No such KMS key."""

    code = "KMS.NotFoundException"
    status = 400
    errno = _errno.EACCES


class KMSInvalidState(ObjfsError):
    """KMS key state."""

    code = "KMS.KMSInvalidStateException"
    status = 400
    errno = _errno.EACCES


class BucketAlreadyOwnedByYou(BucketAlreadyExists):
    """The caller already owns a bucket of that name (a BucketAlreadyExists too)."""

    code = "BucketAlreadyOwnedByYou"


class MFARequired(AccessDenied):
    """MFA delete refused a request: its MFA code is missing, wrong, expired or reused.

    S3's ``AccessDenied`` (same code and status); the mount maps it to EPERM,
    not EACCES: no code can come through a filesystem call, and EPERM tells
    "not this way" apart from a policy's "not you".
    """

    errno = _errno.EPERM


class ObjectLocked(AccessDenied):
    """Object Lock refused to delete (or shorten the lock of) a version: a legal
    hold, COMPLIANCE retention, or GOVERNANCE retention without the bypass.

    S3's ``AccessDenied``; the mount maps it to EPERM (nobody may, not "not you").
    """

    errno = _errno.EPERM


# -- protocol errors of the HTTP API (objfs serve): wire integrity, XML, SigV4 --
class BadRequest(ObjfsError):
    """Bad request."""

    code = "BadRequest"
    status = 400
    errno = _errno.EINVAL


class BadDigest(ObjfsError):
    """The body does not match its digest."""

    code = "BadDigest"
    status = 400
    errno = _errno.EIO


class IncompleteBody(ObjfsError):
    """Fewer bytes than announced."""

    code = "IncompleteBody"
    status = 400
    errno = _errno.EIO


class InvalidDigest(ObjfsError):
    """Digest unreadable."""

    code = "InvalidDigest"
    status = 400
    errno = _errno.EINVAL


class MalformedXML(ObjfsError):
    """XML body malformed."""

    code = "MalformedXML"
    status = 400
    errno = _errno.EINVAL


class MissingContentLength(ObjfsError):
    """Length required."""

    code = "MissingContentLength"
    status = 411
    errno = _errno.EINVAL


class RequestHeaderSectionTooLarge(ObjfsError):
    """Request headers over 8 KB."""

    code = "RequestHeaderSectionTooLarge"
    status = 400
    errno = _errno.EINVAL


class NoSuchEncryptionConfiguration(ObjfsError):
    """The bucket has no default encryption."""

    code = "ServerSideEncryptionConfigurationNotFoundError"
    status = 404
    errno = _errno.ENOENT


class NoSuchCORSConfiguration(ObjfsError):
    """The bucket has no CORS configuration."""

    code = "NoSuchCORSConfiguration"
    status = 404
    errno = _errno.ENOENT


class NoSuchLifecycleConfiguration(ObjfsError):
    """The lifecycle configuration does not exist."""

    code = "NoSuchLifecycleConfiguration"
    status = 404
    errno = _errno.ENOENT


class InvalidStorageClass(ObjfsError):
    """The storage class you specified is not valid."""

    code = "InvalidStorageClass"
    status = 400
    errno = _errno.EINVAL


class NotImplementedOperation(ObjfsError):
    """Not implemented."""

    code = "NotImplemented"
    status = 501
    errno = _errno.ENOSYS


class XAmzContentSHA256Mismatch(ObjfsError):
    """The body does not match x-amz-content-sha256."""

    code = "XAmzContentSHA256Mismatch"
    status = 400
    errno = _errno.EIO


class AuthorizationQueryParametersError(AuthorizationHeaderMalformed):
    """A pre-signed URL's X-Amz-* parameters are wrong (X-Amz-Expires out of range).

    A kind of AuthorizationHeaderMalformed (400) with S3's own code."""

    code = "AuthorizationQueryParametersError"


class RequestTimeTooSkewed(AccessDenied):
    """The signed request time is over 15 minutes from the server's clock.

    A kind of AccessDenied (the request is refused) with S3's own code."""

    code = "RequestTimeTooSkewed"
