from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

from channels.sms import ratelimit


def test_local_bucket_allows_a_burst_then_waits() -> None:
    bucket = ratelimit.LocalBucket(rate=10, burst=3)
    assert [bucket.take() for _ in range(3)] == [(1, 0.0)] * 3
    taken, wait = bucket.take()
    assert taken == 0 and 0.05 < wait <= 0.1


def test_local_bucket_gives_a_batch_what_is_free() -> None:
    bucket = ratelimit.LocalBucket(rate=10, burst=5)
    assert bucket.take(3) == (3, 0.0)
    assert bucket.take(3) == (2, 0.0)  # only two left: a part, not nothing
    taken, wait = bucket.take(3)
    assert taken == 0 and 0.05 < wait <= 0.1


def test_zero_rate_means_no_limit(settings: Any) -> None:
    settings.SMS_RATE_LIMIT_PER_SECOND = 0
    assert all(ratelimit.take_token("x") == 0.0 for _ in range(100))
    assert ratelimit.take_tokens("x", 50) == (50, 0.0)


def test_a_batch_wants_at_least_one_token() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ratelimit.take_tokens("x", 0)


@pytest.mark.redis
def test_redis_bucket_is_shared(settings: Any) -> None:
    settings.SMS_RATE_LIMIT_REDIS_URL = os.environ["CELERY_BROKER_URL"]
    settings.SMS_RATE_LIMIT_PER_SECOND = 5
    settings.SMS_RATE_LIMIT_BURST = 5
    provider = f"test-{uuid.uuid4()}"
    waits = [ratelimit.take_token(provider) for _ in range(6)]
    assert waits[:5] == [0.0] * 5
    assert 0.0 < waits[5] <= 0.2


@pytest.mark.redis
def test_redis_bucket_gives_batches_from_the_same_budget(settings: Any) -> None:
    settings.SMS_RATE_LIMIT_REDIS_URL = os.environ["CELERY_BROKER_URL"]
    # A token every two seconds: the calls below cannot outrun the refill on a slow machine.
    settings.SMS_RATE_LIMIT_PER_SECOND = 0.5
    settings.SMS_RATE_LIMIT_BURST = 5
    provider = f"test-{uuid.uuid4()}"
    assert ratelimit.take_tokens(provider, 3) == (3, 0.0)
    assert ratelimit.take_token(provider) == 0.0  # one worker's batch, another's single send
    assert ratelimit.take_tokens(provider, 3) == (1, 0.0)  # what is left, not more
    taken, wait = ratelimit.take_tokens(provider, 3)
    assert taken == 0 and 0.0 < wait <= 2.0


@pytest.mark.redis
def test_redis_bucket_reloads_a_script_redis_forgot(settings: Any) -> None:
    # The script is sent by its SHA; a Redis that does not know it (a restart, SCRIPT FLUSH)
    # answers NOSCRIPT and gets the script again. Simulated with an unknown SHA: flushing
    # would clear every other user's scripts on a shared server.
    url = settings.SMS_RATE_LIMIT_REDIS_URL = os.environ["CELERY_BROKER_URL"]
    settings.SMS_RATE_LIMIT_PER_SECOND = 5
    settings.SMS_RATE_LIMIT_BURST = 2
    provider = f"test-{uuid.uuid4()}"
    assert ratelimit.take_token(provider) == 0.0
    ratelimit._bucket_script(url).sha = "0" * 40
    assert ratelimit.take_token(provider) == 0.0
    assert 0.0 < ratelimit.take_token(provider) <= 0.2
