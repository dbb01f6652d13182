"""The SDK's file transfers without a server: which files go where, the upload protocol's
bookkeeping (window, resume decisions) and the checks of a download."""

from __future__ import annotations

import hashlib
from pathlib import Path

import google_crc32c
import pytest
from google.rpc import error_details_pb2

import deepseek_api as ds
from deepseek.hpc.v1 import data_pb2
from deepseek_api._chunks import CHUNK_BYTES, WINDOW_BYTES, UploadState, read_chunk
from deepseek_api._download import DownloadState, part_path
from deepseek_api._files import file_ref, list_files_request
from deepseek_api._trees import local_path_for, plan_uploads, remote_path_problem

TARGET = data_pb2.FileRef(job_id="job-1", area=data_pb2.FILE_AREA_INPUT, path="a.bin")
NO_RETRIES = ds.RetryConfig(max_retries=0)
QUICK = ds.RetryConfig(max_retries=2, initial_backoff=0.1, jitter=0)


def tree(root: Path, files: dict[str, bytes]) -> None:
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def remotes(root: Path, sources: object) -> list[tuple[str, str]]:
    return [
        (item.local.relative_to(root).as_posix(), item.remote)
        for item in plan_uploads(sources)  # type: ignore[arg-type]
    ]


# ---------------------------------------------------------------- which files go where


def test_files_go_under_their_names_and_directories_as_trees_under_theirs(tmp_path: Path) -> None:
    tree(
        tmp_path, {"topol.tpr": b"t", "run/conf.gro": b"c", "params/b.mdp": b"", "params/a/x": b""}
    )

    planned = remotes(
        tmp_path, [tmp_path / "topol.tpr", tmp_path / "run/conf.gro", tmp_path / "params"]
    )

    assert planned == [
        ("topol.tpr", "topol.tpr"),
        ("run/conf.gro", "conf.gro"),
        ("params/a/x", "params/a/x"),
        ("params/b.mdp", "params/b.mdp"),
    ]


def test_a_mapping_names_remote_paths_and_an_empty_one_puts_a_tree_at_the_top(
    tmp_path: Path,
) -> None:
    tree(tmp_path, {"run/conf.gro": b"c", "params/b.mdp": b""})

    planned = remotes(tmp_path, {tmp_path / "run/conf.gro": "in/conf.gro", tmp_path / "params": ""})

    assert planned == [("run/conf.gro", "in/conf.gro"), ("params/b.mdp", "b.mdp")]


def test_two_files_with_one_remote_path_are_refused_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    tree(tmp_path, {"a/conf.gro": b"1", "b/conf.gro": b"2"})

    with pytest.raises(ValueError, match=r"both be uploaded as 'conf\.gro'"):
        plan_uploads([tmp_path / "a/conf.gro", tmp_path / "b/conf.gro"])


def test_a_missing_local_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope"):
        plan_uploads([tmp_path / "nope"])


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("", "empty"),
        ("/etc/passwd", "absolute"),
        ("a/../b", "'..'"),
        ("a//b", "empty"),
        ("./a", "'.'"),
        ("a\0b", "NUL"),
        ("x" * 256, "255"),
    ],
)
def test_remote_paths_follow_the_contract(path: str, problem: str) -> None:
    found = remote_path_problem(path)

    assert found is not None
    assert problem in found


def test_downloaded_paths_stay_inside_the_directory(tmp_path: Path) -> None:
    assert local_path_for(tmp_path, "a/b.txt") == tmp_path / "a" / "b.txt"
    with pytest.raises(ValueError, match=r"'\.\.'"):
        local_path_for(tmp_path, "../escape")


def test_owners_are_told_apart_by_the_job_id_prefix() -> None:
    assert file_ref("job-9", "x", "OUTPUT") == data_pb2.FileRef(
        job_id="job-9", area=data_pb2.FILE_AREA_OUTPUT, path="x"
    )
    assert file_ref("set1", "x", None) == data_pb2.FileRef(dataset="set1", path="x")
    with pytest.raises(ValueError, match="dataset"):
        list_files_request("set1", area="INPUT", path_prefix="", page_size=10)


# ---------------------------------------------------------------- the upload protocol


def answer(
    upload_id: str = "up-1", committed: int = 0, **fields: object
) -> data_pb2.UploadResponse:
    return data_pb2.UploadResponse(upload_id=upload_id, committed_size=committed, **fields)  # type: ignore[arg-type]


def state(total: int, retry: ds.RetryConfig = QUICK) -> UploadState:
    return UploadState(TARGET, total, b"\1" * 32, request_id="req-1", overwrite=False, retry=retry)


def test_a_new_upload_starts_with_its_request_id_and_resumes_by_upload_id() -> None:
    upload = state(10)

    first = upload.first_request()
    upload.acknowledged(answer(committed=0, max_chunk_size=4))
    again = upload.first_request()

    assert first.start.request_id == "req-1"
    assert first.start.total_size == 10
    assert first.start.sha256 == b"\1" * 32
    assert again.resume.upload_id == "up-1"


def test_chunks_continue_from_the_committed_size_the_server_reports() -> None:
    upload = state(10 * CHUNK_BYTES)
    upload.first_request()

    upload.acknowledged(answer(committed=3 * CHUNK_BYTES, max_chunk_size=CHUNK_BYTES))

    assert upload.ready
    assert upload.next_offset == 3 * CHUNK_BYTES
    assert upload.next_length() == CHUNK_BYTES


def test_chunks_are_no_larger_than_the_server_accepts_and_end_at_the_file_end() -> None:
    upload = state(100_000)
    upload.first_request()
    upload.acknowledged(answer(max_chunk_size=65_536))

    assert upload.next_length() == 65_536
    upload.sent(65_536)
    assert upload.next_length() == 100_000 - 65_536
    upload.sent(100_000 - 65_536)
    assert upload.next_length() == 0


def test_unacknowledged_bytes_stay_within_the_window() -> None:
    upload = state(100 * CHUNK_BYTES)
    upload.first_request()
    upload.acknowledged(answer(max_chunk_size=CHUNK_BYTES))
    sent = 0
    while upload.may_send(CHUNK_BYTES):
        upload.sent(CHUNK_BYTES)
        sent += CHUNK_BYTES

    assert sent == WINDOW_BYTES
    upload.acknowledged(answer(committed=CHUNK_BYTES))
    assert upload.may_send(CHUNK_BYTES)


def test_the_window_is_the_one_the_servers_first_answer_names() -> None:
    upload = state(100 * CHUNK_BYTES)
    upload.first_request()
    upload.acknowledged(answer(max_chunk_size=CHUNK_BYTES, window_size=10 * CHUNK_BYTES))
    sent = 0
    while upload.may_send(CHUNK_BYTES):
        upload.sent(CHUNK_BYTES)
        sent += CHUNK_BYTES
    upload.acknowledged(answer(committed=2 * CHUNK_BYTES, window_size=CHUNK_BYTES))  # ignored

    assert sent == 10 * CHUNK_BYTES
    assert upload.may_send(CHUNK_BYTES)


def test_the_window_holds_the_servers_acknowledgement_cadence_and_a_chunk() -> None:
    # The server acknowledges every 8 MiB at most; a smaller window would wait forever.
    assert WINDOW_BYTES >= 8 * 1024 * 1024 + CHUNK_BYTES


def test_a_finished_answer_completes_the_upload() -> None:
    upload = state(5)
    upload.first_request()
    info = data_pb2.FileInfo(ref=TARGET, size_bytes=5, sha256=b"\1" * 32)

    upload.acknowledged(answer(committed=5, finished=True, file=info))

    assert upload.finished is not None
    assert upload.finished.path == "a.bin"
    assert upload.finished.area == "INPUT"


def error(cls: type[ds.APIException], reason: str = "", **metadata: str) -> ds.APIException:
    info = error_details_pb2.ErrorInfo(reason=reason, metadata=metadata)
    return cls("test", details=[info] if reason else [])


@pytest.mark.parametrize(
    "failure",
    [
        error(ds.Unavailable),
        error(ds.Unavailable, "UPLOAD_IDLE_TIMEOUT"),
        error(ds.DeadlineExceeded),
        error(ds.Internal),
        error(ds.FailedPrecondition, "OFFSET_MISMATCH", committed_size="7"),
        error(ds.DataLoss, "CHUNK_CHECKSUM_MISMATCH"),
    ],
    ids=["unavailable", "idle", "deadline", "torn-down", "offset", "crc"],
)
def test_breaks_that_lose_nothing_committed_are_resumed(failure: ds.APIException) -> None:
    assert state(10).resume_delay(failure) >= 0


@pytest.mark.parametrize(
    "failure",
    [
        error(ds.DataLoss, "SHA256_MISMATCH"),
        error(ds.FailedPrecondition, "UPLOAD_INCOMPLETE"),
        error(ds.Aborted, "UPLOAD_TAKEN_OVER"),
        error(ds.AlreadyExists),
        error(ds.ResourceExhausted, "STORAGE_QUOTA_EXCEEDED"),
        error(ds.NotFound),
    ],
    ids=["sha", "incomplete", "taken-over", "exists", "quota", "not-found"],
)
def test_refusals_are_raised_not_resumed(failure: ds.APIException) -> None:
    with pytest.raises(type(failure)) as raised:
        state(10).resume_delay(failure)

    assert raised.value is failure


def test_resuming_gives_up_after_max_retries_without_progress() -> None:
    upload = state(100)
    upload.first_request()
    upload.acknowledged(answer(committed=10))
    failure = error(ds.Unavailable)

    upload.resume_delay(failure)
    upload.resume_delay(failure)
    with pytest.raises(ds.Unavailable):
        upload.resume_delay(failure)


def test_progress_between_breaks_restores_the_retries() -> None:
    upload = state(100)
    failure = error(ds.Unavailable)
    for committed in (10, 20, 30, 40):
        upload.first_request()
        upload.acknowledged(answer(committed=committed))
        upload.resume_delay(failure)
        upload.resume_delay(failure)


def test_with_retries_off_a_break_is_raised() -> None:
    with pytest.raises(ds.Unavailable):
        state(10, NO_RETRIES).resume_delay(error(ds.Unavailable))


def test_a_file_that_shrank_since_it_was_hashed_is_not_sent_short(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    import os

    fd = os.open(path, os.O_RDONLY)
    try:
        assert read_chunk(fd, 0, 3) == (b"abc", google_crc32c.value(b"abc"))
        with pytest.raises(OSError, match="shrank"):
            read_chunk(fd, 1, 3)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- the checks of a download

CONTENT = bytes(range(256)) * 40


def header(content: bytes = CONTENT) -> data_pb2.FileInfo:
    ref = data_pb2.FileRef(job_id="job-1", area=data_pb2.FILE_AREA_OUTPUT, path="out.bin")
    return data_pb2.FileInfo(
        ref=ref, size_bytes=len(content), sha256=hashlib.sha256(content).digest()
    )


def chunk(offset: int, data: bytes, crc: int | None = None) -> data_pb2.DownloadChunk:
    value = google_crc32c.value(data) if crc is None else crc
    return data_pb2.DownloadChunk(offset=offset, data=data, crc32c=value)


def download(tmp_path: Path) -> DownloadState:
    ref = data_pb2.FileRef(job_id="job-1", area=data_pb2.FILE_AREA_OUTPUT, path="out.bin")
    state = DownloadState(ref, tmp_path / "out" / "out.bin", QUICK)
    state.open()
    return state


def test_a_download_lands_whole_under_its_name_and_no_part_file_stays(tmp_path: Path) -> None:
    state = download(tmp_path)
    state.header(header())
    state.chunk(chunk(0, CONTENT[:4000]))
    state.chunk(chunk(4000, CONTENT[4000:]))

    assert state.complete()
    assert (tmp_path / "out" / "out.bin").read_bytes() == CONTENT
    assert not part_path(tmp_path / "out" / "out.bin").exists()


def test_a_partial_file_is_resumed_from_its_size(tmp_path: Path) -> None:
    part = part_path(tmp_path / "out" / "out.bin")
    part.parent.mkdir()
    part.write_bytes(CONTENT[:3000])

    state = download(tmp_path)

    assert state.request().offset == 3000
    state.header(header())
    state.chunk(chunk(3000, CONTENT[3000:]))
    assert state.complete()
    assert (tmp_path / "out" / "out.bin").read_bytes() == CONTENT


def test_a_partial_file_of_another_version_is_discarded_and_downloaded_again(
    tmp_path: Path,
) -> None:
    part = part_path(tmp_path / "out" / "out.bin")
    part.parent.mkdir()
    part.write_bytes(b"\xff" * 3000)
    state = download(tmp_path)
    state.header(header())
    state.chunk(chunk(3000, CONTENT[3000:]))

    assert not state.complete()
    assert state.request().offset == 0
    state.header(header())
    state.chunk(chunk(0, CONTENT))
    assert state.complete()
    assert (tmp_path / "out" / "out.bin").read_bytes() == CONTENT


def test_a_chunk_failing_its_crc32c_is_not_written(tmp_path: Path) -> None:
    state = download(tmp_path)
    state.header(header())
    state.chunk(chunk(0, CONTENT[:1000]))

    with pytest.raises(ds.DataLoss, match="CRC32C"):
        state.chunk(chunk(1000, CONTENT[1000:2000], crc=1))

    assert state.position == 1000
    assert state.resume_delay(ds.DataLoss("crc")) >= 0
    assert state.request().offset == 1000


def test_a_chunk_out_of_place_is_refused(tmp_path: Path) -> None:
    state = download(tmp_path)
    state.header(header())

    with pytest.raises(ds.DataLoss, match="expected 0"):
        state.chunk(chunk(10, CONTENT[10:20]))


def test_a_stream_ending_early_is_not_taken_for_the_file(tmp_path: Path) -> None:
    state = download(tmp_path)
    state.header(header())
    state.chunk(chunk(0, CONTENT[:100]))

    with pytest.raises(ds.DataLoss, match="ended at 100"):
        state.complete()

    assert not (tmp_path / "out" / "out.bin").exists()


def test_a_part_file_longer_than_the_file_is_emptied_on_out_of_range(tmp_path: Path) -> None:
    part = part_path(tmp_path / "out" / "out.bin")
    part.parent.mkdir()
    part.write_bytes(b"x" * 50)
    state = download(tmp_path)

    assert state.resume_delay(ds.OutOfRange("beyond the end")) == 0
    assert state.request().offset == 0
    assert part.stat().st_size == 0
