"""A per-provider send rate shared by every worker: a token bucket kept in Redis.

Celery's own `rate_limit` counts per worker process, so ten workers would send ten times the
contracted rate. The bucket lives in one Redis key per provider and is updated by one Lua
script, so checking and taking tokens is atomic across all workers and machines. Taking tokens
is one round trip, for one message or for a batch (`take_tokens`): the script reads Redis's
clock itself and is sent by its SHA.
"""

from __future__ import annotations

import math
import threading
import time
from functools import cache

import redis
from django.conf import settings
from redis.commands.core import Script

# KEYS[1] bucket; ARGV: rate per second, burst size, tokens wanted.
# Returns {tokens taken, seconds until the next token}: all or part of what was wanted, and the
# wait only when none was free (a string: Lua floats would be truncated to integers).
# "now" is Redis's clock, not ours: workers on several machines must agree on it. Reading TIME
# in a script that then writes is allowed since Redis 5 (effects replication, the default;
# Redis 7 has nothing else), and it saves a round trip per send.
_BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local taken = math.min(wanted, math.floor(tokens))
local wait = 0
if taken >= 1 then
  tokens = tokens - taken
else
  taken = 0
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], 3600)
return {taken, tostring(wait)}
"""


class LocalBucket:
    """The same bucket in process memory, for the embedded default (no Redis)."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = burst, time.monotonic()
        self.lock = threading.Lock()

    def take(self, wanted: int = 1) -> tuple[int, float]:
        """Like the Redis script: (tokens taken, seconds until the next one if none was)."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            taken = min(wanted, math.floor(self.tokens))
            if taken >= 1:
                self.tokens -= taken
                return taken, 0.0
            return 0, (1 - self.tokens) / self.rate


@cache
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


@cache
def _bucket_script(url: str) -> Script:
    # Sent by EVALSHA; redis-py loads the script again if the server answers NOSCRIPT (a
    # restart, SCRIPT FLUSH).
    return _redis_client(url).register_script(_BUCKET_SCRIPT)


@cache
def _local_bucket(provider: str, rate: float, burst: float) -> LocalBucket:
    return LocalBucket(rate, burst)


def take_tokens(provider: str, wanted: int) -> tuple[int, float]:
    """Take up to `wanted` send tokens for this provider, as many as are free now (never more
    than the burst). Returns (tokens taken, 0.0), or (0, seconds until one is free).

    A batch takes the tokens for its next few sends in one round trip. A caller must send at
    once what it took: tokens held back are sends the other workers cannot make meanwhile,
    and a token not used (a send that did not happen) is simply lost, so the limit errs low."""
    if wanted < 1:
        raise ValueError("wanted must be at least 1")
    rate = float(settings.SMS_RATE_LIMIT_PER_SECOND)
    if rate <= 0:
        return wanted, 0.0
    burst = float(max(1, settings.SMS_RATE_LIMIT_BURST))
    url = settings.SMS_RATE_LIMIT_REDIS_URL
    if not url:
        return _local_bucket(provider, rate, burst).take(wanted)
    taken, wait = _bucket_script(url)(
        keys=[f"madoguchi:sms-rate:{provider}"], args=[rate, burst, wanted]
    )
    return int(taken), float(wait)


def take_token(provider: str) -> float:
    """Take one send token for this provider. Returns 0.0, or the seconds until one is free."""
    return take_tokens(provider, 1)[1]
