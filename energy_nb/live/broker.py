"""Fan-out of forecast updates between server instances, with resumable sequence ids.

Two implementations behind one interface, chosen by URL (:func:`make_broker`):

* ``memory://`` — :class:`MemoryBroker`, in-process (one server instance).
* ``redis://host:port/db`` — :class:`RedisBroker`, Redis Streams: one stream per topic
  (``energy_nb:forecast:WTI:7``), trimmed to ``maxlen`` entries; the entry id is the update's
  ``seq``. Every instance reads every topic stream, so an update published by any instance
  reaches subscribers on all instances, and a reconnecting client can resume from ``last_seq``
  on any instance. A Redis outage loses nothing: what the feeds publish meanwhile is buffered
  (bounded) and published in order when Redis returns (see :class:`RedisBroker`).

Both use Redis-style ids ``"<unix ms>-<n>"``, strictly increasing per topic.

Usage::

    broker = make_broker("memory://")
    broker.add_listener(lambda topic, seq, message: print(topic, seq))
    await broker.start()
    seq = await broker.publish(Topic("WTI", 7), {"type": "forecast_update", ...})
    backlog = await broker.since(Topic("WTI", 7), last_seq)   # None: gap, send a resync
    await broker.close()
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from energy_nb.commodities import CODES
from energy_nb.live.outage import DEFAULT_PER_TOPIC, OutageBuffer
from energy_nb.stream.protocol import HORIZON_MAX, HORIZON_MIN, Topic, seq_key

logger = logging.getLogger(__name__)

#: Callback receiving every update: ``(topic, seq, message_without_seq)``.
Listener = Callable[[Topic, str, dict[str, Any]], None]
#: One stored update: ``(seq, message_without_seq)``.
Entry = tuple[str, dict[str, Any]]

DEFAULT_MAXLEN = 1000
STREAM_PREFIX = "energy_nb:forecast:"
TOPICS_PREFIX = "energy_nb:live:topics:"
#: Redis key holding the oldest ``seq`` a resume may start from (see ``RedisBroker``).
EPOCH_KEY = "energy_nb:live:epoch"
#: seconds :meth:`RedisBroker.close` waits for its cancelled tasks before dropping connections
CLOSE_GRACE = 0.5


class BrokerError(Exception):
    """The broker cannot publish or read (e.g. Redis is down)."""


def all_topics() -> list[Topic]:
    """Every valid topic (3 commodities x 30 horizons)."""
    return [Topic(c, h) for c in CODES for h in range(HORIZON_MIN, HORIZON_MAX + 1)]


class Broker(ABC):
    """Publishes updates per topic, delivers them to listeners, and replays missed ones."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._local_topics: set[Topic] = set()

    def add_listener(self, listener: Listener) -> None:
        """Register a callback called (in the event loop) once per update on any topic."""
        self._listeners.append(listener)

    def _deliver(self, topic: Topic, seq: str, message: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            try:
                listener(topic, seq, message)
            except Exception:  # a listener bug must not stop fan-out
                logger.exception("broker listener failed for %s", topic.key)

    def set_local_topics(self, topics: Iterable[Topic]) -> None:
        """Tell the broker which topics this instance has subscribers for.

        See ``active_topics``.
        """
        self._local_topics = set(topics)

    async def active_topics(self) -> set[Topic]:
        """Topics with subscribers on any instance (feeds recompute only these)."""
        return set(self._local_topics)

    async def start(self) -> None:
        """Start background work (no-op for memory)."""

    async def close(self) -> None:
        """Stop background work and release connections."""

    @abstractmethod
    async def publish(self, topic: Topic, message: dict[str, Any]) -> str:
        """Store and fan out one update.

        Args:
            topic: the topic.
            message: the ``forecast_update`` dict without ``seq``.

        Returns:
            The assigned ``seq``.

        Raises:
            BrokerError: when the backend is unreachable.
        """

    async def publish_or_buffer(self, topic: Topic, message: dict[str, Any]) -> str | None:
        """Publish, or keep the update while the backend is unreachable (what feeds use).

        Kept updates are published, in order, when the backend returns (see
        :class:`RedisBroker`); the in-memory broker is never unreachable.

        Args:
            topic: the topic.
            message: the ``forecast_update`` dict without ``seq``.

        Returns:
            The assigned ``seq``, or None when the update was kept for later.
        """
        return await self.publish(topic, message)

    @abstractmethod
    async def latest(self, topic: Topic) -> Entry | None:
        """The newest stored update of a topic, or None."""

    @abstractmethod
    async def since(self, topic: Topic, last_seq: str) -> list[Entry] | None:
        """Updates after ``last_seq`` (exclusive), oldest first.

        Returns:
            The list (empty when up to date), or None when the range cannot be replayed in full
            (trimmed, or ``last_seq`` unknown to this broker): the caller sends a ``resync``.
        """


class MemoryBroker(Broker):
    """In-process broker: a bounded deque per topic, listeners called synchronously.

    Args:
        maxlen: entries kept per topic.
    """

    def __init__(self, maxlen: int = DEFAULT_MAXLEN) -> None:
        super().__init__()
        self.maxlen = maxlen
        self._entries: dict[Topic, deque[Entry]] = {}
        self._last: dict[Topic, str] = {}
        self._max_deleted: dict[Topic, str] = {}
        # ids at or before this belong to an earlier process: they cannot be replayed
        self._epoch = (int(time.time() * 1000), 0)

    def _next_id(self, topic: Topic) -> str:
        ms = int(time.time() * 1000)
        last = self._last.get(topic)
        if last is not None:
            last_ms, last_n = seq_key(last)
            if ms <= last_ms:
                return f"{last_ms}-{last_n + 1}"
        return f"{ms}-0"

    async def publish(self, topic: Topic, message: dict[str, Any]) -> str:
        seq = self._next_id(topic)
        entries = self._entries.setdefault(topic, deque())
        entries.append((seq, message))
        while len(entries) > self.maxlen:
            self._max_deleted[topic] = entries.popleft()[0]
        self._last[topic] = seq
        self._deliver(topic, seq, message)
        return seq

    async def latest(self, topic: Topic) -> Entry | None:
        entries = self._entries.get(topic)
        return entries[-1] if entries else None

    async def since(self, topic: Topic, last_seq: str) -> list[Entry] | None:
        key = seq_key(last_seq)
        last = self._last.get(topic)
        if last is not None and key > seq_key(last):
            return None  # from the future: not ours
        if key < self._epoch:
            return None  # issued before this process started
        deleted = self._max_deleted.get(topic)
        if deleted is not None and key < seq_key(deleted):
            return None
        return [e for e in self._entries.get(topic, ()) if seq_key(e[0]) > key]


class RedisBroker(Broker):
    """Redis Streams broker (``redis.asyncio``), which rides out Redis outages.

    While Redis is unreachable (an *outage*: from the first failed command to the first one
    that succeeds again):

    * updates published with :meth:`publish_or_buffer` (what the feeds use) are kept in an
      :class:`~energy_nb.live.outage.OutageBuffer` and published, in order, as soon as Redis
      answers again; at most ``outage_buffer`` per topic, past that the oldest of the topic is
      dropped and the next one published carries ``"superseded": n``;
    * :meth:`active_topics` answers from the topics last read from Redis, so the feed keeps
      computing every topic it knew;
    * one WARNING when the outage starts and one, with its length, when it ends.

    When Redis answers again (or the reader had to reconnect, even without a failed command)
    the instance checks whether Redis lost entries it had read (restarted without persistence
    or from older data: resumes from before then get a ``resync``), re-announces its topics at
    once and publishes the buffer. The reader retries with
    ``redis.backoff.ExponentialBackoff`` (``retry_interval`` doubling up to ``retry_max``), so
    updates resume within about ``retry_max`` seconds of Redis returning.

    Args:
        url: ``redis://host:port/db``.
        maxlen: entries kept per topic stream (exact ``MAXLEN`` trimming).
        block_ms: how long one ``XREAD`` blocks before looping.
        retry_interval: first wait of the reader after a Redis error.
        retry_max: longest wait of the reader between two attempts.
        outage_buffer: updates kept per topic during an outage.
        socket_timeout: seconds a command may wait for Redis before it counts as failed.
    """

    def __init__(self, url: str, maxlen: int = DEFAULT_MAXLEN, block_ms: int = 1000,
                 retry_interval: float = 0.1, retry_max: float = 1.0,
                 outage_buffer: int = DEFAULT_PER_TOPIC, socket_timeout: float = 5.0) -> None:
        super().__init__()
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff, NoBackoff

        self.url = url
        self.maxlen = maxlen
        self.block_ms = block_ms
        self.retry_interval = retry_interval
        self.retry_max = retry_max
        self.instance_id = uuid.uuid4().hex[:12]
        self._where = _without_password(url)
        # fail fast (one immediate retry: a pooled connection may be stale after a restart);
        # during an outage the reader's backoff probes Redis, not every publish
        options: dict[str, Any] = {"decode_responses": True, "socket_connect_timeout": 2.0,
                                   "retry": Retry(NoBackoff(), 1)}
        self._redis = aioredis.Redis.from_url(url, socket_timeout=socket_timeout, **options)
        # the reader blocks in XREAD: give it its own connection
        self._reader_redis = aioredis.Redis.from_url(
            url, socket_timeout=socket_timeout + block_ms / 1000,
            redis_connect_func=self._reader_connected, **options)
        self._reader_ever_connected = False
        # a recovery ran since the reader's last successful read (its reconnect is not news)
        self._recovered_since_read = False
        self._backoff = ExponentialBackoff(cap=retry_max, base=retry_interval / 2)
        self._cursor: dict[str, str] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = asyncio.Event()
        self._buffer = OutageBuffer(outage_buffer)
        self._flush_lock = asyncio.Lock()
        self._sync_lock = asyncio.Lock()
        self._down_since: float | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._remote_topics: set[Topic] = set()
        self._remote_grace_until = 0.0
        self._epoch: str | None = None
        self._cursor_before_outage: dict[str, str] = {}
        self._dropped_before_outage = 0
        self.outages = 0
        self.connected = False

    @staticmethod
    def stream_key(topic: Topic) -> str:
        """The stream name of a topic."""
        return f"{STREAM_PREFIX}{topic.key}"

    @property
    def buffered(self) -> int:
        """Updates waiting in the outage buffer."""
        return len(self._buffer)

    # --- outage bookkeeping -----------------------------------------------------------------

    def _lost(self, exc: BaseException) -> None:
        """Record a failed Redis command: the first one starts an outage (one WARNING)."""
        self.connected = False
        if self._down_since is not None:
            logger.debug("redis at %s still unreachable: %s", self._where, exc)
            return
        self._down_since = time.monotonic()
        self._cursor_before_outage = dict(self._cursor)
        self._dropped_before_outage = self._buffer.dropped
        self.outages += 1
        logger.warning("redis at %s unreachable (%s); buffering updates (at most %d per topic) "
                       "and retrying every %.1f s at most", self._where, exc,
                       self._buffer.per_topic, self.retry_max)

    def _regained(self) -> None:
        """Record a successful Redis command: ends an outage (one WARNING with its length)."""
        self.connected = True
        if self._down_since is None:
            return
        length = time.monotonic() - self._down_since
        self._down_since = None
        dropped = self._buffer.dropped - self._dropped_before_outage
        logger.warning("redis at %s is back after an outage of %.1f s; re-announcing %d "
                       "topic(s), publishing %d buffered update(s)%s", self._where, length,
                       len(self._local_topics), len(self._buffer),
                       f" ({dropped} dropped: buffer full)" if dropped else "")
        self._start_recovery()

    async def _reader_connected(self, connection: Any) -> None:
        """Set up each new reader connection (``redis_connect_func``).

        A new connection after the first one means the previous one broke: Redis may have
        restarted, even so fast that no command failed (the client's one retry reconnected).
        The recovery then runs all the same (it is harmless when nothing was lost).
        """
        await connection.on_connect()
        if not self._reader_ever_connected:
            self._reader_ever_connected = True
        elif self._down_since is None and not self._recovered_since_read:
            logger.info("reconnected to redis at %s; checking its data", self._where)
            self._cursor_before_outage = dict(self._cursor)
            self._start_recovery()

    def _start_recovery(self) -> None:
        self._recovered_since_read = True
        self._remote_grace_until = time.monotonic() + 2 * self.retry_max + 1.0
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.ensure_future(self._recover())

    async def _recover(self) -> None:
        """After an outage: data-loss check, re-announce the topics, publish the buffer."""
        try:
            await self._check_epoch()
            await self.sync_topics()
            await self._flush()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a new outage: the next success retries
            self._lost(exc)

    async def _check_epoch(self) -> None:
        """Read (or set) the dataset's epoch: resumes from a ``seq`` before it get a resync.

        A fresh Redis gets ``0-0``. When Redis lost entries this instance had read — restarted
        without persistence (the epoch key is gone too), or from older data (a lagging
        replica, the last second of an ``appendfsync everysec`` file) — the epoch moves to now:
        a client resuming from an older ``seq`` gets a ``resync`` instead of a replay with a
        silent hole.
        """
        value = await self._redis.get(EPOCH_KEY)
        lost: dict[str, str] = {}
        if self._epoch is not None:
            lost = await self._streams_rolled_back()
        if lost or (value is None and self._epoch is not None):
            # the epoch must pass every lost entry; another instance may already have moved it
            newest_lost = max((seq_key(seq) for seq in lost.values()), default=(0, 0))
            names = ", ".join(list(lost)[:3]) + (" ..." if len(lost) > 3 else "")
            if value is None or seq_key(value) <= newest_lost:
                value = f"{int(time.time() * 1000)}-0"
                await self._redis.set(EPOCH_KEY, value)
                logger.warning("redis at %s lost data (%s); clients resuming from before %s "
                               "get a resync", self._where, names or "all of it", value)
            else:
                logger.info("redis at %s lost data (%s); the epoch %s already covers it",
                            self._where, names, value)
        elif value is None:
            await self._redis.set(EPOCH_KEY, "0-0", nx=True)
            value = await self._redis.get(EPOCH_KEY) or "0-0"
        self._epoch = value

    async def _streams_rolled_back(self) -> dict[str, str]:
        """Streams that lost the last entry this instance read before the outage.

        The entry is gone when the stream ends before it, or when it is missing although
        nothing was ever trimmed or the stream's first entry is older (entries only leave from
        the head, by ``MAXLEN``): new entries may already have been added after a restart.

        Returns:
            ``{topic key: last seq read}`` of those streams.
        """
        import redis

        read = {key: seq for key, seq in self._cursor_before_outage.items() if seq != "0-0"}
        if not read:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for key, seq in read.items():
            pipe.xinfo_stream(key)
            pipe.xrange(key, min=seq, max=seq)
        results = await pipe.execute(raise_on_error=False)
        lost: dict[str, str] = {}
        for i, (key, seq) in enumerate(read.items()):
            info, entry = results[2 * i], results[2 * i + 1]
            for result in (info, entry):
                if isinstance(result, Exception) and not isinstance(result, redis.ResponseError):
                    raise result  # a ResponseError is "no such key": all was lost
            if isinstance(info, Exception):
                lost[key[len(STREAM_PREFIX):]] = seq
                continue
            first = info.get("first-entry")
            trimmed = int(info.get("entries-added") or 0) > int(info.get("length") or 0)
            if seq_key(info.get("last-generated-id") or "0-0") < seq_key(seq) or (not entry and (
                    not trimmed or (first and seq_key(first[0]) <= seq_key(seq)))):
                lost[key[len(STREAM_PREFIX):]] = seq
        return lost

    async def _flush(self) -> None:
        """Publish the outage buffer, oldest first (raises when Redis fails again)."""
        async with self._flush_lock:
            sent = 0
            while self._buffer:
                topic, message = self._buffer.oldest()
                await self._xadd(topic, message)
                self._buffer.pop_oldest()
                sent += 1
            if sent:
                logger.info("published %d update(s) buffered during the redis outage", sent)

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the stream reader and the active-topic heartbeat.

        The reader's starting positions are read first, so an update published right after
        ``start`` returns is delivered. If Redis is down, the reader keeps retrying.
        """
        self._closing.clear()
        try:
            await self._init_cursors()
            await self._check_epoch()
            self.connected = True
        except Exception as exc:  # noqa: BLE001 - Redis down: the reader retries
            self._lost(exc)
        self._tasks = [asyncio.ensure_future(self._read_loop()),
                       asyncio.ensure_future(self._topics_loop())]

    async def close(self) -> None:
        """Stop the reader and the heartbeat, then close the connections (never hangs).

        Cancelling is not enough on its own: redis-py can swallow a cancel that lands while a
        blocking ``XREAD`` is reading (redis/redis-py#2028; with redis-py 8.1 about one close in
        three right after a publish), and the read then waits on. So the loops also stop on
        ``_closing``, the reader's connections are dropped (which ends such a read), and the
        wait for the tasks is bounded.
        """
        self._closing.set()
        tasks = self._tasks + ([self._recovery] if self._recovery is not None else [])
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=CLOSE_GRACE)
            if pending:
                await self._drop_reader_connections()
                for task in pending:
                    task.cancel()
                _, pending = await asyncio.wait(pending, timeout=self._close_wait)
            for task in pending:
                logger.warning("redis broker task %s did not stop within %.1f s; left behind",
                               task.get_name(), CLOSE_GRACE + self._close_wait)
            for task in tasks:
                if task.done() and not task.cancelled():
                    task.exception()  # retrieved: a closing error is of no interest
        self._tasks = []
        self._recovery = None
        if self._buffer:
            logger.warning("closing with %d update(s) still buffered for redis at %s (lost)",
                           len(self._buffer), self._where)
        for client in (self._redis, self._reader_redis):
            try:
                await client.aclose()
            except Exception:  # noqa: BLE001, S110 - best effort on close
                pass

    async def _init_cursors(self) -> None:
        pipe = self._reader_redis.pipeline(transaction=False)
        keys = [self.stream_key(t) for t in all_topics()]
        for key in keys:
            pipe.xrevrange(key, count=1)
        results = await pipe.execute()
        for key, rows in zip(keys, results):
            if key not in self._cursor:
                self._cursor[key] = rows[0][0] if rows else "0-0"

    @property
    def _close_wait(self) -> float:
        """How long a read can last once its connection is dropped (one retried XREAD)."""
        return 2 * (self._reader_redis.connection_pool.connection_kwargs.get(
            "socket_timeout") or 0) + 1.0

    async def _drop_reader_connections(self) -> None:
        try:
            await self._reader_redis.connection_pool.disconnect()
        except Exception as exc:  # noqa: BLE001 - best effort while closing
            logger.debug("dropping the reader's redis connections failed: %s", exc)

    async def _pause(self, seconds: float) -> bool:
        """Sleep ``seconds`` or until :meth:`close`; True when closing."""
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except asyncio.TimeoutError:
            pass
        return self._closing.is_set()

    async def _read_loop(self) -> None:
        failures = 0
        while not self._closing.is_set():
            try:
                if not self._cursor:
                    await self._init_cursors()
                response = await self._reader_redis.xread(self._cursor, block=self.block_ms)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any Redis error: back off, retry
                if self._closing.is_set():
                    return  # close() dropped the connection
                self._lost(exc)
                failures += 1
                if await self._pause(self._backoff.compute(failures)):
                    return
                continue
            failures = 0
            self._regained()
            self._recovered_since_read = False
            for key, entries in response or []:
                topic = _topic_of(key)
                for seq, fields in entries:
                    self._cursor[key] = seq
                    try:
                        message = json.loads(fields["data"])
                    except (KeyError, ValueError):
                        logger.warning("skipping malformed entry %s in %s", seq, key)
                        continue
                    if topic is not None:
                        self._deliver(topic, seq, message)

    # --- topics -----------------------------------------------------------------------------

    async def sync_topics(self, period: float = 20.0) -> None:
        """Write this instance's subscribed topics to Redis now (expires after 3 periods)."""
        key = TOPICS_PREFIX + self.instance_id
        # one announcement at a time, each writing the topics as they are when it runs: two in
        # flight on two connections could land out of order and leave an older set
        async with self._sync_lock:
            pipe = self._redis.pipeline(transaction=True)
            pipe.delete(key)
            if self._local_topics:
                pipe.sadd(key, *[t.key for t in self._local_topics])
                pipe.expire(key, int(period * 3))
            await pipe.execute()

    async def _topics_loop(self, period: float = 20.0) -> None:
        while not self._closing.is_set():
            try:
                await self.sync_topics(period)
                self._regained()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the reader retries; recovery re-syncs
                if self._closing.is_set():
                    return
                self._lost(exc)
            if await self._pause(period):
                return

    def set_local_topics(self, topics: Iterable[Topic]) -> None:
        super().set_local_topics(topics)
        if self._tasks and self._down_since is None:
            # started: publish the change now rather than at the next heartbeat (during an
            # outage the recovery announces them)
            task = asyncio.ensure_future(self.sync_topics())
            task.add_done_callback(self._sync_done)

    def _sync_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._lost(task.exception())  # type: ignore[arg-type]  # recovery re-announces

    async def active_topics(self) -> set[Topic]:
        """Topics with subscribers on any instance.

        During an outage: this instance's topics and the others' as last read from Redis. For a
        short grace after an outage the last read ones are kept too, while the other instances
        re-announce theirs (a Redis restarted without its data has none).
        """
        try:
            remote = await self._read_remote_topics()
        except Exception as exc:  # noqa: BLE001 - outage: answer from the last known topics
            self._lost(exc)
            return self._local_topics | self._remote_topics
        self._regained()
        if time.monotonic() < self._remote_grace_until:
            remote |= self._remote_topics
        self._remote_topics = remote
        return self._local_topics | remote

    async def _read_remote_topics(self) -> set[Topic]:
        topics: set[Topic] = set()
        keys = [k async for k in self._redis.scan_iter(match=TOPICS_PREFIX + "*")]
        keys = [k for k in keys if not k.endswith(self.instance_id)]
        if keys:
            for member in await self._redis.sunion(keys):
                commodity, _, horizon = member.partition(":")
                try:
                    topics.add(Topic.parse(commodity, int(horizon)))
                except Exception:  # noqa: BLE001, S112 - skip a foreign member
                    continue
        return topics

    # --- publish and read -------------------------------------------------------------------

    async def _xadd(self, topic: Topic, message: dict[str, Any]) -> str:
        data = json.dumps(message, separators=(",", ":"))
        seq = await self._redis.xadd(self.stream_key(topic), {"data": data},
                                     maxlen=self.maxlen, approximate=False)
        return str(seq)

    async def publish(self, topic: Topic, message: dict[str, Any]) -> str:
        """Publish now (after any buffered updates, to keep the order).

        Raises:
            BrokerError: when Redis is unreachable (nothing is buffered).
        """
        try:
            if self._buffer:
                await self._flush()
            seq = await self._xadd(topic, message)
        except Exception as exc:
            self._lost(exc)
            raise BrokerError(f"cannot publish {topic.key} to {self._where}: {exc}") from exc
        self._regained()
        return seq

    async def publish_or_buffer(self, topic: Topic, message: dict[str, Any]) -> str | None:
        """Publish now, or during an outage keep the update to publish when Redis returns.

        Returns:
            The ``seq``, or None when the update was buffered.
        """
        if self._down_since is None:
            try:
                return await self.publish(topic, message)
            except BrokerError:
                pass  # the outage has started (logged once by _lost)
        self._buffer.add(topic, message)
        return None

    async def latest(self, topic: Topic) -> Entry | None:
        try:
            rows = await self._redis.xrevrange(self.stream_key(topic), count=1)
        except Exception as exc:
            self._lost(exc)
            raise BrokerError(f"cannot read {topic.key} from {self._where}: {exc}") from exc
        if not rows:
            return None
        seq, fields = rows[0]
        return seq, json.loads(fields["data"])

    async def since(self, topic: Topic, last_seq: str) -> list[Entry] | None:
        import redis

        key = self.stream_key(topic)
        want = seq_key(last_seq)
        try:
            epoch = await self._redis.get(EPOCH_KEY)
            info = await self._redis.xinfo_stream(key)
        except redis.ResponseError:
            return None  # no such stream: nothing we can replay
        except Exception as exc:
            self._lost(exc)
            raise BrokerError(f"cannot read {topic.key} from {self._where}: {exc}") from exc
        if epoch is None or want < seq_key(epoch):
            return None  # issued before Redis lost its data (or not known to be safe)
        last_generated = info.get("last-generated-id") or "0-0"
        if want > seq_key(last_generated):
            return None
        # MAXLEN trimming removes from the head (and Redis 7.0 does not record it in
        # max-deleted-entry-id): if anything was ever removed and last_seq is older than the
        # first kept entry, the range may have a hole -> resync.
        first = info.get("first-entry")
        removed = int(info.get("entries-added") or 0) - int(info.get("length") or 0)
        if first and want < seq_key(first[0]) and removed > 0:
            return None
        if want < seq_key(info.get("max-deleted-entry-id") or "0-0"):
            return None
        try:
            rows = await self._redis.xrange(key, min=f"({last_seq}", max="+")
        except Exception as exc:
            self._lost(exc)
            raise BrokerError(f"cannot read {topic.key} from {self._where}: {exc}") from exc
        return [(seq, json.loads(fields["data"])) for seq, fields in rows]


def _without_password(url: str) -> str:
    """The URL for logs and errors: any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _topic_of(stream_key: str) -> Topic | None:
    commodity, _, horizon = stream_key[len(STREAM_PREFIX):].partition(":")
    try:
        return Topic(commodity, int(horizon))
    except ValueError:
        return None


def make_broker(url: str | None, **options: Any) -> Broker:
    """Create the broker named by a URL.

    Args:
        url: ``memory://`` (default when None/empty) or ``redis://...``/``rediss://...``.
        **options: passed to the broker (e.g. ``maxlen``).

    Returns:
        The broker (not started).

    Raises:
        ValueError: for any other scheme.
    """
    if not url or url.startswith("memory:"):
        return MemoryBroker(**options)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBroker(url, **options)
    raise ValueError(f"unsupported broadcast URL {url!r}; use memory:// or redis://HOST:PORT/DB")
