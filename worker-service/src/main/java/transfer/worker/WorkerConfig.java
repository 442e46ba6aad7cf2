package transfer.worker;

import io.quarkus.runtime.configuration.MemorySize;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import transfer.egress.EgressPolicy;
import transfer.storage.StorageUrl;
import transfer.storage.s3.S3Config;

/** The worker's settings, under {@code transfer.}. */
@ConfigMapping(prefix = "transfer")
public interface WorkerConfig {

  Worker worker();

  Storage storage();

  Fetch fetch();

  Quota quota();

  /** How downloads count against their tenant's bytes-stored quota while they are written. */
  interface Quota {
    /**
     * The bytes-stored quota of a tenant that has none of its own: the api-service's setting of the
     * same name, which both services must be given alike ({@code TRANSFER_QUOTA_BYTES_STORED}).
     */
    @WithDefault("1T")
    MemorySize bytesStored();

    /**
     * Bytes a download writes before it reserves room in the quota: a smaller download counts once
     * complete, and each running download may hold this much uncounted.
     */
    @WithDefault("8M")
    MemorySize unreserved();

    /** Room a download reserves at a time, beyond the bytes it has written. */
    @WithDefault("64M")
    MemorySize reservationStep();
  }

  interface Worker {
    /** This worker's name in leases and logs; defaults to host name and process id. */
    Optional<String> id();

    /** Transfers one worker runs at once; when all are busy it pauses its partitions. */
    @WithDefault("16")
    int slots();

    /** How long a claim lasts without renewal; another worker takes over after it expires. */
    @WithDefault("30s")
    Duration leaseTtl();

    /** How often a running transfer renews its lease and reports progress (at most one event). */
    @WithDefault("1s")
    Duration heartbeatInterval();

    /** How often written bytes are flushed to storage and recorded as durable. */
    @WithDefault("5s")
    Duration checkpointInterval();

    /** Redirects followed per attempt. */
    @WithDefault("5")
    int maxRedirects();

    /**
     * How long the broker waits for a silent worker before its partitions (and their doorbells) go
     * to the others: the recovery time after a crash, for tasks not yet claimed.
     */
    @WithDefault("10s")
    Duration kafkaSessionTimeout();

    /** Fraction of the lease TTL after which a worker that cannot renew stops by itself. */
    @WithDefault("0.8")
    double selfFenceFraction();

    /**
     * How long doorbells of sessions that had nothing claimable (at a limit) wait, parked, before
     * one claim tries them again, unless a slot of this worker frees up first.
     */
    @WithDefault("1s")
    Duration parkedDoorbellRetry();

    /**
     * How long a worker with a free slot goes without claiming before it asks the ledger by itself,
     * with no doorbell: a lost, late or unreachable Kafka delays tasks by at most this long, and
     * never strands them.
     */
    @WithDefault("30s")
    Duration idlePoll();

    /**
     * Fair shares among tenants: how often a worker whose slots are all taken asks the ledger
     * whether to hand a transfer back, because its tenant runs above its fair share while another
     * tenant's claimable tasks have waited this long for a slot. The transfer is queued again with
     * its checkpoint and resumes there later. 0 turns hand-backs off (the claim's fair order
     * stays).
     */
    @WithDefault("1s")
    Duration fairShareCheck();

    /**
     * Politeness: the most transfers running at once on one origin (host and port) across the
     * cluster, whatever their tenants and sessions; a task of an origin at the cap stays queued.
     */
    @WithDefault("64")
    int maxConnectionsPerOrigin();

    /** The worker's one ledger writer, which commits its attempts' lease writes in groups. */
    LedgerWriter ledger();
  }

  /** The group commit of the lease writes ({@code transfer.worker.ledger.}). */
  interface LedgerWriter {
    /**
     * While writes stream in, a group commit begins at most once per this window and takes every
     * write queued by then; a write that finds the writer idle goes at once. So a lone write waits
     * at most this long.
     */
    @WithDefault("25ms")
    Duration batchWindow();

    /** The most writes in one group commit (a fuller queue is flushed at once). */
    @WithDefault("500")
    int batchMax();
  }

  /**
   * Where tasks may fetch from and send to: the same keys as the api-service's ({@code
   * TRANSFER_FETCH_ALLOWED_DESTINATIONS} serves both). See egress/DESIGN.md.
   */
  interface Fetch {
    /**
     * Destinations allowed besides public addresses: {@code 127.0.0.1:8081}, {@code 10.0.0.0/8},
     * {@code files.internal}, {@code .corp.example}, {@code [fd00::1]:9000}. None by default.
     */
    Optional<List<String>> allowedDestinations();

    /** Ports a public address may be reached on. */
    @WithDefault(EgressPolicy.DEFAULT_PORTS_SETTING)
    List<Integer> allowedPorts();

    /** Most bytes one task may transfer; a longer body is cut and fails size_limit_exceeded. */
    @WithDefault(EgressPolicy.DEFAULT_MAX_BYTES_SETTING)
    MemorySize maxBytes();

    /**
     * A PEM file of one or more certificate authorities that HTTPS origins may be signed by, in
     * addition to the JVM's own ({@code TRANSFER_FETCH_TRUSTED_CA}): a company's private CA.
     */
    Optional<Path> trustedCa();

    /**
     * Where the TLS client certificates that sessions name ({@code clientCertificate}) are: {@code
     * <dir>/<tenant>/<name>/tls.crt} and {@code tls.key} (PEM), the shape of a mounted Kubernetes
     * TLS Secret ({@code TRANSFER_FETCH_CLIENT_CERTIFICATES}). A session reaches only its own
     * tenant's. Not set: a session that names one fails its tasks tls_certificate.
     */
    Optional<Path> clientCertificates();

    /**
     * HTTP/2 to HTTPS origins that offer it (ALPN); false: HTTP/1.1 everywhere. Plain-text origins
     * are always HTTP/1.1.
     */
    @WithDefault("true")
    boolean http2();
  }

  interface Storage {
    /**
     * Where stored bytes live: {@code file:///path} (a file system shared with the api-service) or
     * {@code s3://bucket/prefix}; unset: the directory {@link #root}.
     */
    Optional<String> url();

    /** Directory of stored objects, shared with the api-service, when {@link #url} is unset. */
    @WithDefault("data/objects")
    Path root();

    /** How the bucket is reached when {@link #url} is {@code s3://}. */
    S3Config s3();

    /**
     * Bytes of each part of a download into S3 (at least 5M; raised for a body that would need more
     * than 10,000 parts). A transfer spools at most three parts on local disk.
     */
    @WithDefault("8M")
    MemorySize partSize();

    /**
     * The local directory S3 parts are gathered in before they are uploaded (each worker uses a
     * subdirectory of its own, emptied when it starts); unset: the JVM's temporary directory.
     */
    Optional<Path> spool();

    /** Threads that S3 requests (parts, completions) block, for all transfers. */
    @WithDefault("16")
    int requestThreads();

    /** The backend {@link #url} names (the file system at {@link #root} when unset). */
    default StorageUrl location() {
      return StorageUrl.parse(url().orElse(null), root());
    }

    /**
     * Write bodies with O_DIRECT where the filesystem takes it, so that the page cache does not
     * grow by every byte downloaded; off, or where refused (tmpfs), through the page cache.
     */
    @WithDefault("true")
    boolean directIo();

    /** Largest chunk a fast transfer gathers before one write (slow ones use 16 KiB chunks). */
    @WithDefault("4M")
    MemorySize writeBufferSize();

    /** Direct memory all transfers' chunks larger than 16 KiB may take together. */
    @WithDefault("64M")
    MemorySize writeBufferMemory();

    /** Threads that write, hash and read objects for all transfers. */
    @WithDefault("8")
    int ioThreads();
  }
}
