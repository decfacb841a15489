"""The queue's shared state: a token bucket of admissions, handed out as numbers in order.

Three values: `issued` (the last queue number given out), `head` (a real number: every number
up to it is admitted) and `ts` (when `head` was last moved). Admissions accrue at `rate` per
second, and up to `burst` of them may be banked while nobody waits:

    head = min(issued + burst, head + (now - ts) * rate)

An arrival takes number = issued + 1; it is admitted at once if number <= head, so nobody sees
a queue page below capacity. Everyone behind is admitted exactly when `head` passes their
number, which happens at a rate nothing can change: (number - head) / rate is the wait, not a
guess. Numbers of people who gave up are passed over like any other (their share of the rate
is lost, the estimates of those behind them stay true).

Two stores, one algorithm: Redis (one Lua script, atomic across every web process and
machine) and process memory under a lock (the embedded default, a single process).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import redis
from redis.commands.core import Script


@dataclass(frozen=True)
class Turn:
    """The queue as one request saw it. `number` is 0 for a look that took no number."""

    number: int
    head: float
    issued: int
    epoch: str


class QueueStore(Protocol):
    def take_number(self, *, rate: float, burst: int, now: float | None = None) -> Turn:
        """Move the head to `now`, then give out the next number."""

    def look(self, *, rate: float, burst: int, now: float | None = None) -> Turn:
        """Move the head to `now` and report it (a refresh of someone already queued)."""


# How long the state outlives its last visitor. A day of silence starts a new epoch: queue
# cookies of the old one are then worthless (their numbers would mean nothing in the new one).
STATE_TTL_SECONDS = 24 * 3600

# KEYS[1] the queue's hash. ARGV: rate, burst, 'take' or 'look', now ('' = Redis's clock), a
# fresh epoch id (used only if the state is new), ttl.
# Returns {number, head, issued, epoch}; head as a string because Lua numbers are returned to
# the client as truncated integers.
# "now" is Redis's clock in production, so web processes on several machines agree; reading
# TIME before writing is allowed since Redis 5 (effects replication, the only mode of Redis 7).
# The head never moves back: `ts` only grows, whatever clock a caller brings.
_QUEUE_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[4])
if not now then
  local clock = redis.call('TIME')
  now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'issued', 'head', 'ts', 'epoch')
local issued = tonumber(state[1]) or 0
local head = tonumber(state[2]) or burst
local ts = tonumber(state[3]) or now
local epoch = state[4] or ARGV[5]
if now > ts then
  head = math.min(issued + burst, head + (now - ts) * rate)
  ts = now
end
local number = 0
if ARGV[3] == 'take' then
  issued = issued + 1
  number = issued
end
redis.call('HSET', KEYS[1], 'issued', issued, 'head', tostring(head), 'ts', tostring(ts),
  'epoch', epoch)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return {number, tostring(head), issued, epoch}
"""


@cache
def _redis_client(url: str) -> redis.Redis:
    # Short timeouts: the queue sits in front of every resident page, and a hung Redis must
    # cost a request a fraction of a second before the room fails open (middleware.py).
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


@cache
def _queue_script(url: str) -> Script:
    # Sent by EVALSHA; redis-py loads it again if Redis answers NOSCRIPT (a restart).
    return _redis_client(url).register_script(_QUEUE_SCRIPT)


class RedisQueue:
    """The queue in one Redis hash, shared by every web process."""

    def __init__(self, url: str, *, key: str = "madoguchi:waiting-room") -> None:
        self.url, self.key = url, key

    def _run(self, mode: str, rate: float, burst: int, now: float | None) -> Turn:
        number, head, issued, epoch = _queue_script(self.url)(
            keys=[self.key],
            args=[
                repr(rate),
                burst,
                mode,
                "" if now is None else repr(now),
                secrets.token_hex(4),
                STATE_TTL_SECONDS,
            ],
        )
        return Turn(
            number=int(number),
            head=float(head),
            issued=int(issued),
            epoch=epoch.decode() if isinstance(epoch, bytes) else str(epoch),
        )

    def take_number(self, *, rate: float, burst: int, now: float | None = None) -> Turn:
        return self._run("take", rate, burst, now)

    def look(self, *, rate: float, burst: int, now: float | None = None) -> Turn:
        return self._run("look", rate, burst, now)


class MemoryQueue:
    """The same queue in this process's memory, for the embedded default (one process serving
    every resident). Behind several processes each would keep its own queue: use Redis."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._issued = 0
        self._head: float | None = None
        self._ts: float | None = None
        self._epoch = secrets.token_hex(4)

    def _advance(self, rate: float, burst: int, now: float | None) -> None:
        moment = time.time() if now is None else now
        if self._head is None or self._ts is None:
            self._head, self._ts = float(burst), moment
        elif moment > self._ts:
            self._head = min(self._issued + burst, self._head + (moment - self._ts) * rate)
            self._ts = moment

    def take_number(self, *, rate: float, burst: int, now: float | None = None) -> Turn:
        # One lock for the read-advance-write, as the Lua script is one atomic step in Redis.
        with self._lock:
            self._advance(rate, burst, now)
            self._issued += 1
            assert self._head is not None
            return Turn(self._issued, self._head, self._issued, self._epoch)

    def look(self, *, rate: float, burst: int, now: float | None = None) -> Turn:
        with self._lock:
            self._advance(rate, burst, now)
            assert self._head is not None
            return Turn(0, self._head, self._issued, self._epoch)
