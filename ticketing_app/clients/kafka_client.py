"""The Kafka clients (aiokafka), built here for the relay, the consumers and the health probe:
the producer's delivery settings, the consumers' commit mode and the topics the relay keeps."""

from __future__ import annotations

import contextlib

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from ticketing_app.settings import Settings


def marker_topic(settings: Settings) -> str:
    return f"{settings.kafka_topic}.relay-marker"


class KafkaClients:
    """Makes this process's Kafka clients; each caller starts and stops its own (a relay
    replaces its producer after a broker restart)."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def admin(self, request_timeout_ms: int = 5000) -> AIOKafkaAdminClient:
        return AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap,
                                   request_timeout_ms=request_timeout_ms)

    def producer(self) -> AIOKafkaProducer:
        """Acknowledged by every in-sync replica: the relay marks a row sent only then."""
        return AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap, acks="all",
            enable_idempotence=self.settings.kafka_idempotent_producer, linger_ms=2,
            request_timeout_ms=10000, retry_backoff_ms=100,
        )

    def consumer(self, group_id: str) -> AIOKafkaConsumer:
        """Offsets are committed by hand after processing (at least once)."""
        s = self.settings
        return AIOKafkaConsumer(
            s.kafka_topic, bootstrap_servers=s.kafka_bootstrap, group_id=group_id,
            enable_auto_commit=False, auto_offset_reset="earliest",
            metadata_max_age_ms=5000, session_timeout_ms=10000, heartbeat_interval_ms=1000,
        )

    async def ensure_topics(self, marker: bool = True) -> bool:
        """Create the topics if missing. True when the broker had forgotten them: the marker
        topic, which nobody produces to (so no broker auto-creates it), is gone only after data
        loss. `marker=False` (the consumers, before they subscribe): the event topic only, with
        its configured partitions, so that a consumer's metadata request never has the broker
        create it with a default count first; the marker stays the relay's to notice."""
        settings = self.settings
        admin = self.admin()
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            marker_name = marker_topic(settings)
            wanted = (settings.kafka_topic, marker_name) if marker else (settings.kafka_topic,)
            missing = [t for t in wanted if t not in existing]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics([
                        NewTopic(t, num_partitions=settings.kafka_topic_partitions if
                                 t == settings.kafka_topic else 1, replication_factor=1)
                        for t in missing])
            return marker_name in missing
        finally:
            await admin.close()
