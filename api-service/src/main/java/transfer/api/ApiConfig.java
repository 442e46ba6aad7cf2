package transfer.api;

import io.quarkus.runtime.configuration.MemorySize;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import transfer.storage.StorageUrl;
import transfer.storage.s3.S3Config;

/** The api-service's own settings, under {@code transfer.}. */
@ConfigMapping(prefix = "transfer")
public interface ApiConfig {

  Api api();

  Storage storage();

  StagedObjects objects();

  Outbox outbox();

  Reaper reaper();

  Retention retention();

  Metrics metrics();

  /**
   * The admin key ({@code TRANSFER_ADMIN_KEY}): the only credential of {@code /v1/admin}, which
   * manages tenants and their keys. Not set: the admin API answers 404.
   */
  Optional<String> adminKey();

  Quota quota();

  Submit submit();

  /**
   * Group commit of single submits ({@code POST /v1/sessions/{sid}/tasks}): concurrent ones are
   * written in one transaction and one commit ({@code transfer.ledger.SubmitGroups}).
   */
  interface Submit {
    /**
     * How long a group waits after its first submit for more (0: not at all; a group then holds
     * what arrived while the one before it committed).
     */
    @WithDefault("0ms")
    Duration groupWindow();

    /** Most submits in one transaction. */
    @WithDefault("500")
    int groupMax();

    /** Threads that write groups, each with one connection at a time. */
    @WithDefault("1")
    int committers();
  }

  interface Api {
    /** Key of the default tenant, registered at start (the local cluster sets it). */
    Optional<String> bootstrapKey();

    /** Id of the tenant that {@link #bootstrapKey()} belongs to. */
    @WithDefault("default")
    String bootstrapTenant();

    /**
     * Requests this instance serves at once (the API's endpoints, not event streams, object bodies
     * or task content, which have caps of their own); one more is answered 503 with {@code
     * Retry-After} at once, without being started, so that an overload makes clients back off
     * instead of queueing them for threads and database connections. 0 turns it off.
     */
    @WithDefault("64")
    int maxInFlight();
  }

  interface Storage {
    /**
     * Where stored bytes live: {@code file:///path} (a file system shared with the workers) or
     * {@code s3://bucket/prefix}; unset: the directory {@link #root}.
     */
    Optional<String> url();

    /**
     * Directory of stored objects, shared with the workers, when {@link #url} is unset; on S3,
     * where staged bodies are spooled before they are stored.
     */
    @WithDefault("data/objects")
    Path root();

    /** How the bucket is reached when {@link #url} is {@code s3://}. */
    S3Config s3();

    /** How long a link from {@code GET .../content?redirect=true} reads the object (S3 only). */
    @WithDefault("15m")
    Duration linkTtl();

    /** The backend {@link #url} names (the file system at {@link #root} when unset). */
    default StorageUrl location() {
      return StorageUrl.parse(url().orElse(null), root());
    }
  }

  interface StagedObjects {
    /** Largest object staged with PUT /v1/sessions/{sid}/objects/{name} (bytes, or 64G etc.). */
    @WithDefault("64G")
    MemorySize maxBytes();

    /**
     * The slowest an object's body may arrive, in bytes a second, measured over each {@link
     * #minRateWindow}: an upload that brings less in one window is ended (its connection closed,
     * nothing stored), so a trickle cannot hold a worker thread for ever.
     */
    @WithDefault("1K")
    MemorySize minRate();

    /** The period over which {@link #minRate} is measured. */
    @WithDefault("30s")
    Duration minRateWindow();
  }

  interface Outbox {
    /** Largest number of outbox rows published in one batch. */
    @WithDefault("500")
    int batchSize();

    /**
     * How long the relay and the sequencer, asleep, wait for a notification before they look
     * anyway.
     */
    @WithDefault("1s")
    Duration idlePoll();

    /**
     * The pause after a pass of the relay or the sequencer that found work (and was not full): what
     * commits meanwhile goes in the next batch (and round) together. Under load each pass finds
     * work, so this is how often they commit.
     */
    @WithDefault("25ms")
    Duration busyPoll();

    /**
     * The pause after a pass that found nothing, while the relay and the sequencer linger awake: a
     * lone doorbell or event waits at most this long (asleep, a notification wakes them at once).
     */
    @WithDefault("5ms")
    Duration lingerPoll();

    /**
     * How long the relay and the sequencer keep polling after their last work before they fall
     * asleep; asleep, writers' triggers wake them (a NOTIFY per committing writer, which awake they
     * are spared).
     */
    @WithDefault("200ms")
    Duration linger();

    /**
     * Each tenant's events go to a topic of its own, {@code transfer-events.<tenant>}, instead of
     * the shared {@code transfer-events} ({@code TRANSFER_OUTBOX_TOPIC_PER_TENANT}).
     */
    @WithDefault("false")
    boolean topicPerTenant();

    /**
     * With topics per tenant, the relay creates a tenant's topic when it first publishes to it and
     * the topic is missing (the api's principal then needs CREATE on the topics prefixed {@code
     * transfer-events.}); false: whoever runs Kafka creates them when a tenant is added.
     */
    @WithDefault("true")
    boolean createTenantTopics();

    /** Partitions of a tenant topic the relay creates (the broker's replication factor). */
    @WithDefault("3")
    int tenantTopicPartitions();

    /**
     * How many times the relay sends a record that Kafka refuses while it takes others (or that it
     * refuses with an error no retry mends) before it parks the record in {@code outbox_parked}, so
     * that one record that can never be sent holds up neither its lane nor the other.
     */
    @WithDefault("5")
    int parkAfter();

    /**
     * How long a lane's passes may fail (Kafka takes nothing from it) before the relay's leader
     * steps down for 5 s, so that another replica, which may reach Kafka, can lead.
     */
    @WithDefault("60s")
    Duration stepDownAfter();
  }

  interface Reaper {
    /** How many tasks one reaper pass handles per kind of work. */
    @WithDefault("200")
    int batchSize();

    /** Queued tasks unclaimed for this long are announced again (their doorbell may be lost). */
    @WithDefault("60s")
    Duration reannounceAfter();

    /**
     * The reaper analyzes the task table once this many of its rows changed since the last analyze
     * (0: only autovacuum does), so that the claim's plan follows bursts of work whatever the
     * server's {@code autovacuum_naptime} (worker-service/DESIGN.md, "Fresh statistics").
     */
    @WithDefault("2000")
    long analyzeAfter();

    /**
     * How often the tenants' usage counters (what the tasks-in-flight and bytes-stored quotas read)
     * are recounted from the tasks and objects and corrected where they drifted: a duration, or
     * {@code off}. Read by {@code Reaper}'s schedule.
     */
    @WithDefault("6h")
    String recountUsageEvery();
  }

  interface Retention {
    /** Finished tasks (and their stored downloads) are removed this long after they finished. */
    @WithDefault("7d")
    Duration tasks();

    /** Stored events (replay and SSE) are removed this long after they were written. */
    @WithDefault("7d")
    Duration events();

    /** How often the retention job runs. */
    @WithDefault("10m")
    Duration interval();

    /** Largest number of tasks, and of events, one retention batch removes. */
    @WithDefault("1000")
    int batchSize();

    /**
     * A temporary object untouched for this long that nothing will finish or resume (a staged
     * object's body whose api-service stopped mid-body, a download attempt's whose task is gone) is
     * deleted by retention. File storage only: S3 never shows an incomplete object.
     */
    @WithDefault("6h")
    Duration orphansIdle();
  }

  interface Metrics {
    /**
     * How often each replica reads the queue's gauges from the ledger (one query, {@code
     * QueueStatistics.queueStats}); scrapes serve the last read. Read by {@code ApiMetrics}'
     * schedule.
     */
    @WithDefault("5s")
    Duration refresh();
  }

  /**
   * Per-tenant quotas: these defaults apply to every tenant whose own value (set through the admin
   * API) is null.
   */
  interface Quota {
    /** Most tasks of a tenant not final (queued, waiting, running, suspended) at once. */
    @WithDefault("100000")
    long tasksInFlight();

    /**
     * Most bytes a tenant holds in storage: staged objects, completed downloads, and the room that
     * downloads in progress and objects being staged reserved. The workers read the same setting.
     */
    @WithDefault("1T")
    MemorySize bytesStored();

    /**
     * Room an object PUT without a Content-Length reserves at a time as its body arrives (one with
     * a length reserves that length before reading).
     */
    @WithDefault("64M")
    MemorySize reservationStep();

    /** Sustained API requests per second per tenant, on each API instance. */
    @WithDefault("200")
    double requestsPerSecond();

    /** Requests a tenant may make at once above the sustained rate, on each API instance. */
    @WithDefault("400")
    int burst();

    /**
     * Database lookups of API keys this instance has not cached, per client address: a made-up key
     * costs one, a known key one per cache period. Past the burst, a request with an uncached key
     * gets 429 and costs no query, so a flood of random keys cannot drain the connection pool.
     */
    @WithDefault("5")
    double keyLookupsPerSecond();

    /**
     * Uncached key lookups a client address may make at once before {@link #keyLookupsPerSecond}.
     */
    @WithDefault("20")
    int keyLookupBurst();

    /**
     * Event streams (SSE) a tenant may hold open at once on each API instance; past it, opening
     * another answers 429. Each open stream holds a connection and a little memory, not a thread.
     */
    @WithDefault("100")
    int eventStreams();

    /**
     * Object uploads (PUT of a staged object) a tenant may have in progress at once on each API
     * instance; past it, another answers 429. Each holds a worker thread while its body arrives, so
     * one tenant's slow uploads cannot take the threads every other request needs.
     */
    @WithDefault("16")
    int uploads();

    /** The default of {@link #retryAfter}, in seconds. */
    long DEFAULT_RETRY_AFTER_SECONDS = 30;

    /** The Retry-After answered when tasks-in-flight or bytes-stored is exceeded. */
    @WithDefault(DEFAULT_RETRY_AFTER_SECONDS + "s")
    Duration retryAfter();
  }
}
