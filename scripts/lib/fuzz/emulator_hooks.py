"""schemathesis hooks for app-lambda behind the cargo-lambda runtime emulator (scripts/test-fuzz).

The emulator answers a request whose body or header values are not valid UTF-8 with its own `500`,
before any function runs: it cannot put such bytes into the event. Those cases test the emulator,
not the function, so they are not sent to it. The same cases still reach the same router on the
app-ecs run, and the HTTP contract sends non-UTF-8 bodies to the Lambda function as API Gateway
events (base64-encoded).
"""

import schemathesis
from schemathesis.transport.serialization import Binary


def _is_utf8(value) -> bool:
    if isinstance(value, Binary):
        value = value.data
    if isinstance(value, str):
        # A header value goes out as latin-1: each character above U+007F becomes one byte.
        try:
            value = value.encode("latin-1")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "surrogatepass")
    if isinstance(value, (bytes, bytearray)):
        try:
            bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


@schemathesis.hook
def filter_case(context, case) -> bool:
    if isinstance(case.body, (bytes, bytearray, Binary)) and not _is_utf8(case.body):
        return False
    headers = case.headers or {}
    return all(_is_utf8(value) for value in headers.values() if isinstance(value, str))
