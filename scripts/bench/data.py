"""How fast files go through the gateway, beside same-run baselines of the bare machinery.

One run measures, each with the client in a separate process (this script, ``--role client``)
and the server in a process of its own:

1. ``dd`` writing the same amount to a file, with ``conv=fsync``;
2. a bare grpc.aio client stream of raw bytes in chunks of the same size, the server writing
   each chunk to a file and fsync'ing at the end (and the same file streamed back, for
   downloads): what any gRPC upload in Python costs before any check;
3. the gateway: Upload into a job's inputs with a CRC32C per chunk, acknowledgements of
   durably committed bytes every 8 MiB, the whole file's SHA-256 checked and the file renamed
   into place; then Download of the same file from offset 0, the client checking every CRC32C.

The data is a 64 MiB random pool cycled to the size asked for; its CRC32Cs and the file's
SHA-256 are computed before the clock starts, so that the client does the same work for the
baseline and for the gateway. Goal: gateway upload >= 0.8x the bare stream.

Run: ``.venv/bin/python scripts/bench/data.py [--mib 1024] [--chunk-kib 4096]``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import google_crc32c
import grpc
import grpc.aio

from deepseek.hpc.v1 import common_pb2, data_pb2, data_pb2_grpc, job_pb2, job_pb2_grpc

MIB = 1024 * 1024
POOL_BYTES = 64 * MIB
UPLOAD_METHOD = "/bench.Bare/Upload"
READ_METHOD = "/bench.Bare/Read"
TARGET = 0.8
_IDENTITY: dict[str, Any] = {"request_deserializer": None, "response_serializer": None}


# --------------------------------------------------------------------------- data


class Source:
    """``size`` bytes cut into chunks of ``chunk`` bytes from a random pool."""

    def __init__(self, size: int, chunk: int) -> None:
        pool = os.urandom(POOL_BYTES)
        self.size = size
        self.chunk = chunk
        self.pieces = [pool[at : at + chunk] for at in range(0, POOL_BYTES, chunk)]
        self.crcs = [google_crc32c.value(piece) for piece in self.pieces]
        hasher = hashlib.sha256()
        for _, piece, _ in self.chunks():
            hasher.update(piece)
        self.sha256 = hasher.digest()

    def chunks(self) -> Iterator[tuple[int, bytes, int]]:
        """(offset, data, crc32c) from the start to the end."""
        offset = 0
        index = 0
        while offset < self.size:
            piece = self.pieces[index % len(self.pieces)][: self.size - offset]
            crc = self.crcs[index % len(self.pieces)]
            if len(piece) < self.chunk:
                crc = google_crc32c.value(piece)
            yield offset, piece, crc
            offset += len(piece)
            index += 1


# --------------------------------------------------------------------------- bare server


async def bare_server(directory: Path) -> None:
    """A grpc.aio server that writes a client stream to a file and streams it back."""
    path = directory / "bare.bin"

    async def upload(requests: AsyncIterator[bytes], context: Any) -> bytes:
        with path.open("wb", buffering=0) as file:
            async for data in requests:
                file.write(data)
            os.fsync(file.fileno())
        return b""

    async def read(request: bytes, context: Any) -> AsyncIterator[bytes]:
        chunk = int(request)
        with path.open("rb", buffering=0) as file:
            while data := file.read(chunk):
                yield data

    handler = grpc.method_handlers_generic_handler(
        "bench.Bare",
        {
            "Upload": grpc.stream_unary_rpc_method_handler(upload, **_IDENTITY),
            "Read": grpc.unary_stream_rpc_method_handler(read, **_IDENTITY),
        },
    )
    server = grpc.aio.server(options=_options())
    server.add_generic_rpc_handlers([handler])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(json.dumps({"port": port}), flush=True)
    await server.wait_for_termination()


def _options() -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", 64 * MIB),
        ("grpc.max_send_message_length", 64 * MIB),
    ]


# --------------------------------------------------------------------------- clients


async def bare_client(address: str, source: Source) -> dict[str, float]:
    """Upload then download through the bare server; seconds of each."""
    async with grpc.aio.insecure_channel(address, options=_options()) as channel:
        upload: grpc.aio.StreamUnaryMultiCallable[bytes, bytes] = channel.stream_unary(
            UPLOAD_METHOD
        )
        read: grpc.aio.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(READ_METHOD)

        async def stream() -> AsyncIterator[bytes]:
            for _, data, _ in source.chunks():
                yield data

        began = time.perf_counter()
        await upload(stream())
        uploaded = time.perf_counter() - began
        began = time.perf_counter()
        received = 0
        async for data in read(str(source.chunk).encode()):
            received += len(data)
        downloaded = time.perf_counter() - began
    assert received == source.size, received
    return {"upload": uploaded, "download": downloaded}


async def gateway_client(address: str, source: Source) -> dict[str, float]:
    """Upload then download through the gateway with every check on; seconds of each."""
    async with grpc.aio.insecure_channel(address, options=_options()) as channel:
        jobs = job_pb2_grpc.JobServiceStub(channel)
        spec = job_pb2.JobSpec(
            job_name="bench",
            command="true",
            resource_spec=common_pb2.ResourceSpec(nodes=1, cpus_per_node=1),
        )
        job = (await jobs.CreateJob(job_pb2.CreateJobRequest(spec=spec))).job
        ref = data_pb2.FileRef(job_id=job.id, area=data_pb2.FILE_AREA_INPUT, path="bench.bin")
        data = data_pb2_grpc.DataChunkServiceStub(channel)

        async def requests() -> AsyncIterator[data_pb2.UploadRequest]:
            yield data_pb2.UploadRequest(
                start=data_pb2.UploadStart(target=ref, total_size=source.size, sha256=source.sha256)
            )
            for offset, piece, crc in source.chunks():
                yield data_pb2.UploadRequest(
                    chunk=data_pb2.UploadChunk(offset=offset, data=piece, crc32c=crc)
                )
            yield data_pb2.UploadRequest(finish=data_pb2.UploadFinish())

        began = time.perf_counter()
        answers = [answer async for answer in data.Upload(requests())]
        uploaded = time.perf_counter() - began
        assert answers[-1].finished
        assert answers[-1].file.sha256 == source.sha256

        began = time.perf_counter()
        received = 0
        async for message in data.Download(data_pb2.DownloadRequest(file=ref)):
            if message.HasField("chunk"):
                chunk = message.chunk
                assert google_crc32c.value(chunk.data) == chunk.crc32c
                received += len(chunk.data)
        downloaded = time.perf_counter() - began
    assert received == source.size, received
    return {"upload": uploaded, "download": downloaded, "acks": float(len(answers))}


async def client(args: argparse.Namespace) -> None:
    source = Source(args.mib * MIB, args.chunk_kib * 1024)
    run = bare_client if args.kind == "bare" else gateway_client
    print(json.dumps(await run(args.address, source)), flush=True)


# --------------------------------------------------------------------------- orchestration


@contextmanager
def process(
    command: list[str], environ: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.terminate()
        child.wait(30)


def run_client(kind: str, address: str, args: argparse.Namespace) -> dict[str, float]:
    command = [
        sys.executable, __file__, "--role", "client", "--kind", kind, "--address", address,
        "--mib", str(args.mib), "--chunk-kib", str(args.chunk_kib),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"{kind} client failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure_dd(directory: Path, mib: int, chunk_kib: int) -> float:
    target = directory / "dd.bin"
    count = mib * 1024 // chunk_kib
    began = time.perf_counter()
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={target}", f"bs={chunk_kib}K", f"count={count}", "conv=fsync"],
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - began
    target.unlink()
    return seconds


def measure_bare(directory: Path, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, __file__, "--role", "bare-server", "--dir", str(directory)]
    with process(command) as server:
        assert server.stdout is not None
        port = json.loads(server.stdout.readline())["port"]
        result = run_client("bare", f"127.0.0.1:{port}", args)
    (directory / "bare.bin").unlink(missing_ok=True)
    return result


def measure_gateway(directory: Path, args: argparse.Namespace) -> dict[str, float]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSEEK")}
    environ.update(
        DEEPSEEK__SERVER__PORT="0",
        DEEPSEEK__STORAGE__STATE_DIR=str(directory / "gateway"),
        DEEPSEEK__DATA__MAX_CHUNK_BYTES=str(args.chunk_kib * 1024),
        DEEPSEEK__AUTH__REQUIRED="false",  # the benchmark measures data, not tokens
    )
    with process([sys.executable, "-m", "deepseek_server"], environ) as server:
        address = _gateway_address(server)
        result = run_client("gateway", address, args)
    shutil.rmtree(directory / "gateway", ignore_errors=True)
    return result


def _gateway_address(server: subprocess.Popen[str]) -> str:
    assert server.stderr is not None
    lines = iter(server.stderr)
    for line in lines:
        if line.startswith("{") and json.loads(line).get("message") == "gateway serving":
            # Keep draining the log, or a full pipe would stall the gateway.
            threading.Thread(target=collections.deque, args=(lines, 0), daemon=True).start()
            return str(json.loads(line)["address"])
    raise SystemExit(f"the gateway exited with {server.wait()} before serving")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mib", type=int, default=1024, help="file size in MiB (default 1024)")
    parser.add_argument("--chunk-kib", type=int, default=4096, help="chunk size (default 4096)")
    parser.add_argument("--role", default="main", choices=("main", "client", "bare-server"))
    parser.add_argument("--kind", choices=("bare", "gateway"))
    parser.add_argument("--address")
    parser.add_argument("--dir")
    args = parser.parse_args()
    if args.role == "client":
        asyncio.run(client(args))
        return
    if args.role == "bare-server":
        asyncio.run(bare_server(Path(args.dir)))
        return

    mb = args.mib * MIB / 1e6
    with tempfile.TemporaryDirectory(prefix="bench-data-", dir=Path.cwd()) as temporary:
        directory = Path(temporary)
        dd_seconds = measure_dd(directory, args.mib, args.chunk_kib)
        bare = measure_bare(directory, args)
        gateway = measure_gateway(directory, args)

    rate = {
        "dd": mb / dd_seconds,
        "bare_up": mb / bare["upload"],
        "bare_down": mb / bare["download"],
        "up": mb / gateway["upload"],
        "down": mb / gateway["download"],
    }
    print(f"{args.mib} MiB in chunks of {args.chunk_kib} KiB ({mb:.0f} MB); MB/s:")
    print(f"  dd conv=fsync (baseline)                {rate['dd']:8.0f}")
    print(f"  bare grpc.aio stream -> file (baseline) {rate['bare_up']:8.0f}")
    print(f"  bare grpc.aio stream <- file (baseline) {rate['bare_down']:8.0f}")
    print(
        f"  gateway Upload (CRC32C, fsync'd acks, SHA-256, rename) {rate['up']:8.0f}"
        f"   = {rate['up'] / rate['bare_up']:.2f}x bare stream, "
        f"{rate['up'] / rate['dd']:.2f}x dd   (goal >= {TARGET}x bare; "
        f"{int(gateway['acks'])} acknowledgements)"
    )
    print(
        f"  gateway Download (CRC32C per chunk, checked) {rate['down']:8.0f}"
        f"   = {rate['down'] / rate['bare_down']:.2f}x bare stream"
    )


if __name__ == "__main__":
    main()
