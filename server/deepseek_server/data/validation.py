"""Checks of upload starts and dataset fields, each naming the bad field."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping

from deepseek_server.data.model import Area, FileRef
from deepseek_server.data.paths import check_path
from deepseek_server.errors import FieldViolation, InvalidArgument

DATASET_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
JOB_ID_PREFIX = "job-"
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
MAX_DESCRIPTION_CHARS = 1024
MAX_LABELS = 64
_LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
SHA256_BYTES = 32


def bad(field: str, description: str) -> InvalidArgument:
    """INVALID_ARGUMENT for one field."""
    return InvalidArgument([FieldViolation(field, description)])


def check_ref(ref: FileRef, field: str, *, for_upload: bool) -> tuple[str, ...]:
    """The path components of a file address, after checking its owner, area and path."""
    if bool(ref.job_id) == bool(ref.dataset):
        raise bad(field, "exactly one of job_id and dataset is required")
    if ref.dataset:
        check_dataset_name(ref.dataset, f"{field}.dataset")
        if ref.area is not Area.NONE:
            raise bad(f"{field}.area", "must be unspecified for a dataset file")
    elif ref.area is Area.NONE:
        raise bad(f"{field}.area", "is required for a job file (INPUT or OUTPUT)")
    elif for_upload and ref.area is not Area.INPUT:
        raise bad(f"{field}.area", "uploads go to a job's INPUT area")
    return check_path(ref.path, f"{field}.path")


def check_dataset_name(name: str, field: str) -> None:
    """INVALID_ARGUMENT unless ``name`` is a valid dataset name."""
    if not DATASET_NAME.fullmatch(name) or name.startswith(JOB_ID_PREFIX):
        raise bad(
            field,
            "1-63 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit, "
            "not starting with 'job-'",
        )


def check_request_id(request_id: str, field: str = "request_id") -> None:
    """INVALID_ARGUMENT unless ``request_id`` is empty or a valid idempotency key."""
    if request_id and not REQUEST_ID.fullmatch(request_id):
        raise bad(field, "1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':', '-'")


def check_sha256(value: bytes, field: str) -> None:
    """INVALID_ARGUMENT unless ``value`` is empty or 32 bytes."""
    if value and len(value) != SHA256_BYTES:
        raise bad(field, f"must be {SHA256_BYTES} bytes (raw SHA-256), got {len(value)}")


def check_dataset_fields(description: str, labels: Mapping[str, str]) -> None:
    """INVALID_ARGUMENT naming every bad description or label."""
    violations = []
    if len(description) > MAX_DESCRIPTION_CHARS:
        violations.append(
            FieldViolation(
                "dataset.description", f"must be at most {MAX_DESCRIPTION_CHARS} characters"
            )
        )
    elif any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in description):
        violations.append(
            FieldViolation("dataset.description", "must not contain control characters")
        )
    if len(labels) > MAX_LABELS:
        violations.append(FieldViolation("dataset.labels", f"at most {MAX_LABELS} labels"))
    for key, value in labels.items():
        if not _LABEL_KEY.fullmatch(key):
            violations.append(
                FieldViolation(
                    f"dataset.labels[{key!r}]",
                    "keys are 1-63 characters of a-z, 0-9, '_', '-' starting with a letter",
                )
            )
        if not _LABEL_VALUE.fullmatch(value):
            violations.append(
                FieldViolation(
                    f"dataset.labels[{key!r}]", "values are 0-63 characters of a-z, 0-9, '_', '-'"
                )
            )
    if violations:
        raise InvalidArgument(violations)


def dataset_fingerprint(name: str, description: str, labels: Mapping[str, str]) -> str:
    """What identifies a CreateDataset request's body, for idempotent retries."""
    text = json.dumps([name, description, sorted(labels.items())])
    return hashlib.sha256(text.encode()).hexdigest()


def page_size(requested: int) -> int:
    """The page size a listing uses: 0 means 100, at most 1000; negative is refused."""
    if requested < 0:
        raise bad("page_size", "must not be negative")
    return min(requested or 100, 1000)
