"""Why a request failed, in the ledger's words."""


def failure_reason(failure):
    """A short, key-free reason for the ledger: ``HTTP 503``, ``TimeoutError``..."""
    response = getattr(failure.value, "response", None)
    if response is not None:
        return f"HTTP {response.status}"
    return type(failure.value).__name__
