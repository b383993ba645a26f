"""What the outside clients share: tokens minted with hotline-token, stubs
with a bearer, the ErrorInfo of a failed call, and waiting for a condition.

Environment: HOTLINE_KEYS (the key file deploy/local/up.sh printed),
HOTLINE_TOKEN_TOOL (the hotline-token binary); argv[1] the host.
"""

import os
import subprocess
import sys
import time

import grpc
from google.rpc import error_details_pb2, status_pb2

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORTS = {"intake": 50051, "dispatch": 50052, "undertaking": 50053, "supervision": 50054}
TOKEN_TOOL = os.environ.get("HOTLINE_TOKEN_TOOL", "target/release/hotline-token")


def token(*args):
    """A bearer token minted by hotline-token with these arguments."""
    env = dict(os.environ, HOTLINE_AUTH_KEYS_FILE=os.environ.get("HOTLINE_KEYS", ".run/dev-keys.toml"))
    return subprocess.run([TOKEN_TOOL, *args], env=env, check=True, capture_output=True, text=True).stdout.strip()


def bearer(subject, roles, unit=None):
    """Call metadata for an identity."""
    args = ["--subject", subject, "--roles", roles]
    if unit:
        args += ["--unit", unit]
    return [("authorization", "Bearer " + token(*args))]


def stub(cls, service):
    """A stub of `cls` on the service's default port."""
    return cls(grpc.insecure_channel(f"{HOST}:{PORTS[service]}"))


def error_info(e):
    """The google.rpc.ErrorInfo in a failed call's status details, or None."""
    details = dict(e.trailing_metadata() or ()).get("grpc-status-details-bin")
    if not details:
        return None
    for d in status_pb2.Status.FromString(details).details:
        if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            d.Unpack(info)
            return info
    return None


def refused(call, code, label):
    """Runs `call`, which must fail with `code`; returns the error."""
    try:
        call()
    except grpc.RpcError as e:
        assert e.code() == code, (label, e.code(), e.details())
        print(f"{label}: {e.code().name} {e.details()}")
        return e
    raise SystemExit(f"{label}: accepted")


def wait_for(what, probe, seconds=30):
    """Polls `probe` until it returns something truthy; fails after `seconds`."""
    deadline = time.time() + seconds
    while True:
        got = probe()
        if got:
            return got
        if time.time() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)
