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


def _error(name: str, code: str, status: int, err: int, doc: str) -> type[ObjfsError]:
    cls = type(name, (ObjfsError,), {"code": code, "status": status, "errno": err, "__doc__": doc})
    return cls


# One line per S3 error code. Keep alphabetical within a group.
AccessDenied = _error(
    "AccessDenied", "AccessDenied", 403, _errno.EACCES, "Refused by policy, ACL or key."
)
AccessControlListNotSupported = _error(
    "AccessControlListNotSupported",
    "AccessControlListNotSupported",
    400,
    _errno.EPERM,
    "The bucket does not allow ACLs (BucketOwnerEnforced).",
)
AccessForbidden = _error(
    "AccessForbidden", "AccessForbidden", 403, _errno.EACCES, "CORS request not allowed."
)
AuthorizationHeaderMalformed = _error(
    "AuthorizationHeaderMalformed",
    "AuthorizationHeaderMalformed",
    400,
    _errno.EACCES,
    "Authorization header or pre-signed query malformed.",
)
BucketAlreadyExists = _error(
    "BucketAlreadyExists", "BucketAlreadyExists", 409, _errno.EEXIST, "Bucket name taken."
)
BucketNotEmpty = _error(
    "BucketNotEmpty", "BucketNotEmpty", 409, _errno.ENOTEMPTY, "Bucket has versions."
)
ConditionalRequestConflict = _error(
    "ConditionalRequestConflict",
    "ConditionalRequestConflict",
    409,
    _errno.ESTALE,  # close()/fsync() of an edit whose base was replaced meanwhile
    "The object changed since the edit began.",
)
EntityAlreadyExists = _error(
    "EntityAlreadyExists", "EntityAlreadyExists", 409, _errno.EEXIST, "User or key exists."
)
EntityTooLarge = _error("EntityTooLarge", "EntityTooLarge", 400, _errno.EFBIG, "Upload too large.")
EntityTooSmall = _error("EntityTooSmall", "EntityTooSmall", 400, _errno.EINVAL, "Part too small.")
IntegrityError = _error(
    "IntegrityError", "InternalError", 500, _errno.EIO, "Stored data is damaged."
)
InternalError = _error("InternalError", "InternalError", 500, _errno.EIO, "Unexpected failure.")
IncorrectNumberOfFilesInPostRequest = _error(
    "IncorrectNumberOfFilesInPostRequest",
    "IncorrectNumberOfFilesInPostRequest",
    400,
    _errno.EINVAL,
    "POST requires exactly one file upload per request.",
)
InvalidAccessKeyId = _error(
    "InvalidAccessKeyId", "InvalidAccessKeyId", 403, _errno.EACCES, "No such active access key."
)
InvalidArgument = _error("InvalidArgument", "InvalidArgument", 400, _errno.EINVAL, "Bad argument.")
InvalidBucketName = _error(
    "InvalidBucketName", "InvalidBucketName", 400, _errno.EINVAL, "Bucket name breaks a rule."
)
InvalidBucketState = _error(
    "InvalidBucketState", "InvalidBucketState", 409, _errno.EINVAL, "Not allowed in this state."
)
InvalidBucketAclWithObjectOwnership = _error(
    "InvalidBucketAclWithObjectOwnership",
    "InvalidBucketAclWithObjectOwnership",
    400,
    _errno.EINVAL,
    "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting.",
)
InvalidPart = _error(
    "InvalidPart", "InvalidPart", 400, _errno.EINVAL, "Part missing or ETag differs."
)
InvalidPartOrder = _error(
    "InvalidPartOrder", "InvalidPartOrder", 400, _errno.EINVAL, "Parts not ascending."
)
InvalidPolicyDocument = _error(
    "InvalidPolicyDocument",
    "InvalidPolicyDocument",
    400,
    _errno.EINVAL,
    "The POST form's policy document is not valid.",
)
InvalidRange = _error("InvalidRange", "InvalidRange", 416, _errno.EINVAL, "Range not satisfiable.")
InvalidTag = _error("InvalidTag", "InvalidTag", 400, _errno.EINVAL, "A tag breaks a rule.")
InvalidRequest = _error("InvalidRequest", "InvalidRequest", 400, _errno.EINVAL, "Bad request.")
InvalidURI = _error(
    "InvalidURI", "InvalidURI", 400, _errno.EINVAL, "Couldn't parse the specified URI."
)
InvalidTargetBucketForLogging = _error(
    "InvalidTargetBucketForLogging",
    "InvalidTargetBucketForLogging",
    400,
    _errno.EINVAL,
    "The logging target bucket is missing or does not accept log delivery.",
)
KeyTooLong = _error(
    "KeyTooLong", "KeyTooLongError", 400, _errno.ENAMETOOLONG, "Key over 1024 bytes."
)
LimitExceeded = _error(
    "LimitExceeded", "LimitExceeded", 409, _errno.EDQUOT, "A limit would be exceeded."
)
MalformedPOSTRequest = _error(
    "MalformedPOSTRequest",
    "MalformedPOSTRequest",
    400,
    _errno.EINVAL,
    "The body of your POST request is not well-formed multipart/form-data.",
)
MaxPostPreDataLengthExceeded = _error(
    "MaxPostPreDataLengthExceeded",
    "MaxPostPreDataLengthExceededError",
    400,
    _errno.EINVAL,
    "Your POST request fields preceding the upload file were too large.",
)
MetadataTooLarge = _error(
    "MetadataTooLarge",
    "MetadataTooLarge",
    400,
    _errno.ENOSPC,  # setxattr: no room left for the attribute
    "User metadata over 2 KB.",
)
InvalidRetentionPeriod = _error(
    "InvalidRetentionPeriod",
    "InvalidRetentionPeriod",
    400,
    _errno.EINVAL,
    "The retention period must be a positive whole number of days or years.",
)
ObjectLockConfigurationNotFoundError = _error(
    "ObjectLockConfigurationNotFoundError",
    "ObjectLockConfigurationNotFoundError",
    404,
    _errno.ENODATA,
    "Object Lock configuration does not exist for this bucket",
)
MalformedPolicy = _error(
    "MalformedPolicy", "MalformedPolicy", 400, _errno.EINVAL, "Policy is not valid."
)
MethodNotAllowed = _error(
    "MethodNotAllowed", "MethodNotAllowed", 405, _errno.ENOENT, "Not allowed on a delete marker."
)
NoSuchBucket = _error("NoSuchBucket", "NoSuchBucket", 404, _errno.ENOENT, "No such bucket.")
NoSuchBucketPolicy = _error(
    "NoSuchBucketPolicy", "NoSuchBucketPolicy", 404, _errno.ENOENT, "The bucket has no policy."
)
OwnershipControlsNotFoundError = _error(
    "OwnershipControlsNotFoundError",
    "OwnershipControlsNotFoundError",
    404,
    _errno.ENOENT,
    "The bucket ownership controls were not found.",
)
NoSuchPublicAccessBlockConfiguration = _error(
    "NoSuchPublicAccessBlockConfiguration",
    "NoSuchPublicAccessBlockConfiguration",
    404,
    _errno.ENOENT,
    "The bucket has no public access block configuration.",
)
NoSuchObjectLockConfiguration = _error(
    "NoSuchObjectLockConfiguration",
    "NoSuchObjectLockConfiguration",
    404,
    _errno.ENODATA,
    "The specified object does not have a ObjectLock configuration",
)
NoSuchEntity = _error("NoSuchEntity", "NoSuchEntity", 404, _errno.ENOENT, "No such user or key.")
NoSuchKey = _error("NoSuchKey", "NoSuchKey", 404, _errno.ENOENT, "No such key.")
NoSuchTagSet = _error(
    "NoSuchTagSet", "NoSuchTagSet", 404, _errno.ENOENT, "The TagSet does not exist"
)
NoSuchUpload = _error("NoSuchUpload", "NoSuchUpload", 404, _errno.ENOENT, "No such upload.")
NoSuchVersion = _error("NoSuchVersion", "NoSuchVersion", 404, _errno.ENOENT, "No such version.")
NotModified = _error("NotModified", "NotModified", 304, _errno.EAGAIN, "Not modified.")
PreconditionFailed = _error(
    "PreconditionFailed", "PreconditionFailed", 412, _errno.EAGAIN, "Precondition failed."
)
SignatureDoesNotMatch = _error(
    "SignatureDoesNotMatch",
    "SignatureDoesNotMatch",
    403,
    _errno.EACCES,
    "The request signature does not match.",
)
StoreNotFound = _error(
    "StoreNotFound", "StoreNotFound", 500, _errno.ENOENT, "No objfs store at that path."
)
StoreFormatError = _error(
    "StoreFormatError", "StoreFormatError", 500, _errno.EIO, "Store format not supported."
)
StoreFull = _error("StoreFull", "InsufficientStorage", 507, _errno.ENOSPC, "No space left.")
UnresolvableGrantByEmailAddress = _error(
    "UnresolvableGrantByEmailAddress",
    "UnresolvableGrantByEmailAddress",
    400,
    _errno.EINVAL,
    "No user has the e-mail address of a grant.",
)
KMSAlreadyExists = _error(
    "KMSAlreadyExists", "KMS.AlreadyExistsException", 400, _errno.EEXIST, "KMS alias exists."
)
KMSDisabled = _error(
    "KMSDisabled", "KMS.DisabledException", 400, _errno.EACCES, "KMS key disabled."
)
KMSNotFound = _error("KMSNotFound", "KMS.NotFoundException", 400, _errno.EACCES, "No such KMS key.")
KMSInvalidState = _error(
    "KMSInvalidState", "KMS.KMSInvalidStateException", 400, _errno.EACCES, "KMS key state."
)


class BucketAlreadyOwnedByYou(BucketAlreadyExists):  # type: ignore[misc, valid-type]
    """The caller already owns a bucket of that name (a BucketAlreadyExists too)."""

    code = "BucketAlreadyOwnedByYou"


class MFARequired(AccessDenied):  # type: ignore[misc, valid-type]
    """MFA delete refused a request: its MFA code is missing, wrong, expired or reused.

    S3's ``AccessDenied`` (same code and status); the mount maps it to EPERM,
    not EACCES: no code can come through a filesystem call, and EPERM tells
    "not this way" apart from a policy's "not you".
    """

    errno = _errno.EPERM


class ObjectLocked(AccessDenied):  # type: ignore[misc, valid-type]
    """Object Lock refused to delete (or shorten the lock of) a version: a legal
    hold, COMPLIANCE retention, or GOVERNANCE retention without the bypass.

    S3's ``AccessDenied``; the mount maps it to EPERM (nobody may, not "not you").
    """

    errno = _errno.EPERM


# -- protocol errors of the HTTP API (objfs serve): wire integrity, XML, SigV4 --
BadRequest = _error("BadRequest", "BadRequest", 400, _errno.EINVAL, "Bad request.")
BadDigest = _error("BadDigest", "BadDigest", 400, _errno.EIO, "The body does not match its digest.")
IncompleteBody = _error(
    "IncompleteBody", "IncompleteBody", 400, _errno.EIO, "Fewer bytes than announced."
)
InvalidDigest = _error("InvalidDigest", "InvalidDigest", 400, _errno.EINVAL, "Digest unreadable.")
MalformedXML = _error("MalformedXML", "MalformedXML", 400, _errno.EINVAL, "XML body malformed.")
MissingContentLength = _error(
    "MissingContentLength", "MissingContentLength", 411, _errno.EINVAL, "Length required."
)
RequestHeaderSectionTooLarge = _error(
    "RequestHeaderSectionTooLarge",
    "RequestHeaderSectionTooLarge",
    400,
    _errno.EINVAL,
    "Request headers over 8 KB.",
)
NoSuchEncryptionConfiguration = _error(
    "NoSuchEncryptionConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
    404,
    _errno.ENOENT,
    "The bucket has no default encryption.",
)
NoSuchCORSConfiguration = _error(
    "NoSuchCORSConfiguration",
    "NoSuchCORSConfiguration",
    404,
    _errno.ENOENT,
    "The bucket has no CORS configuration.",
)
NoSuchLifecycleConfiguration = _error(
    "NoSuchLifecycleConfiguration",
    "NoSuchLifecycleConfiguration",
    404,
    _errno.ENOENT,
    "The lifecycle configuration does not exist.",
)
InvalidStorageClass = _error(
    "InvalidStorageClass",
    "InvalidStorageClass",
    400,
    _errno.EINVAL,
    "The storage class you specified is not valid.",
)
NotImplementedOperation = _error(
    "NotImplementedOperation", "NotImplemented", 501, _errno.ENOSYS, "Not implemented."
)
XAmzContentSHA256Mismatch = _error(
    "XAmzContentSHA256Mismatch",
    "XAmzContentSHA256Mismatch",
    400,
    _errno.EIO,
    "The body does not match x-amz-content-sha256.",
)


class AuthorizationQueryParametersError(AuthorizationHeaderMalformed):  # type: ignore[misc, valid-type]
    """A pre-signed URL's X-Amz-* parameters are wrong (X-Amz-Expires out of range).

    A kind of AuthorizationHeaderMalformed (400) with S3's own code."""

    code = "AuthorizationQueryParametersError"


class RequestTimeTooSkewed(AccessDenied):  # type: ignore[misc, valid-type]
    """The signed request time is over 15 minutes from the server's clock.

    A kind of AccessDenied (the request is refused) with S3's own code."""

    code = "RequestTimeTooSkewed"
